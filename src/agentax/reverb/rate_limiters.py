"""Rate limiters with Reverb's blocking rules (`reverb/cc/rate_limiter.cc`).

A limiter counts inserts, samples and deletes of its table. Sampling is
allowed when `inserts - deletes >= min_size_to_sample` and
`inserts * samples_per_insert - samples - n >= min_diff`; inserting is allowed
while `inserts + n - deletes <= min_size_to_sample` or
`(inserts + n) * samples_per_insert - samples <= max_diff`.
"""

from __future__ import annotations

import sys
import warnings


class RateLimiter:
    """The general limiter; the subclasses are Reverb's named presets."""

    def __init__(self, samples_per_insert: float, min_size_to_sample: int, min_diff: float,
                 max_diff: float):
        if min_size_to_sample < 1:
            raise ValueError(f"min_size_to_sample ({min_size_to_sample}) must be a positive integer")
        self.samples_per_insert = float(samples_per_insert)
        self.min_size_to_sample = int(min_size_to_sample)
        self.min_diff = float(min_diff)
        self.max_diff = float(max_diff)
        self.inserts = self.samples = self.deletes = 0

    def can_sample(self, num_samples: int = 1) -> bool:
        if self.inserts - self.deletes < self.min_size_to_sample:
            return False
        return self.inserts * self.samples_per_insert - self.samples - num_samples >= self.min_diff

    def can_insert(self, num_inserts: int = 1) -> bool:
        if self.inserts + num_inserts - self.deletes <= self.min_size_to_sample:
            return True
        return (self.inserts + num_inserts) * self.samples_per_insert - self.samples <= self.max_diff

    def num_samples_allowed(self, wanted: int) -> int:
        """How many of `wanted` samples may proceed now, one after another (no deletes between)."""
        if self.inserts - self.deletes < self.min_size_to_sample:
            return 0
        room = self.inserts * self.samples_per_insert - self.samples - self.min_diff
        return wanted if room >= wanted else max(0, int(room))

    def reset(self) -> None:
        self.inserts = self.samples = self.deletes = 0

    def info(self) -> dict:
        return {"samples_per_insert": self.samples_per_insert, "min_size_to_sample": self.min_size_to_sample,
                "min_diff": self.min_diff, "max_diff": self.max_diff, "insert_count": self.inserts,
                "sample_count": self.samples, "delete_count": self.deletes}

    def state(self) -> tuple[int, int, int]:
        return self.inserts, self.samples, self.deletes

    def set_state(self, state) -> None:
        self.inserts, self.samples, self.deletes = (int(x) for x in state)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(samples_per_insert={self.samples_per_insert}, "
                f"min_size_to_sample={self.min_size_to_sample}, min_diff={self.min_diff}, "
                f"max_diff={self.max_diff})")


class MinSize(RateLimiter):
    """Block sampling until the table holds `min_size_to_sample` items; never block inserts."""

    def __init__(self, min_size_to_sample: int):
        if min_size_to_sample < 1:
            raise ValueError(f"min_size_to_sample ({min_size_to_sample}) must be a positive integer")
        super().__init__(1.0, min_size_to_sample, -sys.float_info.max, sys.float_info.max)


class SampleToInsertRatio(RateLimiter):
    """Keep `samples_per_insert` samples per insert within `error_buffer` (Reverb's two stages).

    A number `error_buffer` gives the range `offset -/+ error_buffer` with
    `offset = samples_per_insert * min_size_to_sample`; a pair is used as is.
    """

    def __init__(self, samples_per_insert: float, min_size_to_sample: int,
                 error_buffer: float | tuple[float, float]):
        if isinstance(error_buffer, (int, float)):
            offset = samples_per_insert * min_size_to_sample
            min_diff, max_diff = offset - error_buffer, offset + error_buffer
        else:
            min_diff, max_diff = error_buffer
        if max_diff - min_diff < 2 * max(1.0, samples_per_insert):
            raise ValueError(
                "The size of error_buffer must be >= 2 * max(1.0, samples_per_insert) as smaller values "
                f"could completely block samples and/or insert calls (got the range [{min_diff}, "
                f"{max_diff}] with samples_per_insert={samples_per_insert})")
        if max_diff < samples_per_insert * min_size_to_sample:
            warnings.warn("The range covered by error_buffer is below samples_per_insert * "
                          "min_size_to_sample: unless the sampler runs concurrently this deadlocks as soon "
                          "as min_size_to_sample items have been inserted.", stacklevel=2)
        if min_diff > samples_per_insert * min_size_to_sample:
            raise ValueError(
                "The range covered by error_buffer is above samples_per_insert * min_size_to_sample "
                f"({min_diff} > {samples_per_insert * min_size_to_sample}). This would deadlock as soon as "
                "min_size_to_sample items have been inserted.")
        if min_size_to_sample < 1:
            raise ValueError(f"min_size_to_sample ({min_size_to_sample}) must be a positive integer")
        super().__init__(samples_per_insert, min_size_to_sample, min_diff, max_diff)


class Queue(RateLimiter):
    """The limiter of `Table.queue` (use that instead)."""

    def __init__(self, size: int):
        super().__init__(1.0, 1, 0.0, float(size))


class Stack(RateLimiter):
    """The limiter of `Table.stack` (use that instead)."""

    def __init__(self, size: int):
        super().__init__(1.0, 1, 0.0, float(size))
