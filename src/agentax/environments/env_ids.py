"""The error every suite raises for an id it does not know."""

from __future__ import annotations

import difflib
from typing import Iterable


def unknown_id_error(loader: str, env_id, known: Iterable[str]) -> ValueError:
    """`ValueError` naming `env_id` and up to five close matches among `known`."""
    matches = difflib.get_close_matches(str(env_id), list(known), n=5, cutoff=0.5)
    hint = f" Close matches: {', '.join(matches)}." if matches else ""
    return ValueError(f"{loader}: unknown environment id `env_id`={env_id!r}.{hint}")
