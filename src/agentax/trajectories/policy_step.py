"""`PolicyStep`: what a policy returns."""

from typing import Any, NamedTuple


class PolicyStep(NamedTuple):
    """`action` to take, the policy's next `state`, and auxiliary `info`."""

    action: Any
    state: Any = ()
    info: Any = ()
