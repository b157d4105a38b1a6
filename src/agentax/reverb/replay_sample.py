"""`ReplaySample(info, data)` and `SampleInfo`, as in `reverb.replay_sample`."""

from __future__ import annotations

from typing import Any, NamedTuple


class SampleInfo(NamedTuple):
    """What the table reports with a sampled item (`times_sampled` counts this sample)."""

    key: Any
    probability: Any
    table_size: Any
    priority: Any
    times_sampled: Any


class ReplaySample(NamedTuple):
    info: SampleInfo
    data: Any
