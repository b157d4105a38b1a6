"""`ReverbReplayBuffer`: an `agentax.reverb` table seen as a TF-Agents replay buffer.

`as_dataset(sample_batch_size, num_steps)` is an iterator of
`(Trajectory [B, T, ...], SampleInfo [B, T])` filled by a background thread (the
info broadcast along time, as TF-Agents does). `num_steps` follows TF-Agents'
rules: it must divide `sequence_length`; a smaller value cuts each sampled
sequence into `sequence_length // num_steps` rows, which are shuffled and
batched. With `rate_limiter_timeout_ms >= 0` the iterator ends (StopIteration)
when the rate limiter blocks longer than that, as Reverb's dataset does.
"""

from __future__ import annotations

import queue
import threading
import time

import jax
import numpy as np

from agentax import reverb
from agentax.reverb.errors import DeadlineExceededError
from agentax.reverb.replay_sample import SampleInfo
from agentax.reverb.table import _Ragged
from agentax.specs import array_spec

DEFAULT_TABLE = "experience"
_STOP = object()


class ReverbReplayBuffer:
    def __init__(self, data_spec, table_name: str, sequence_length: int | None, server_address=None,
                 local_server=None, dataset_buffer_size=None, max_cycle_length=32,
                 num_workers_per_iterator=-1, max_samples_per_stream=-1, rate_limiter_timeout_ms=-1):
        if (server_address is None) == (local_server is None):
            raise ValueError("Exactly one of the server_address or local_server must be provided.")
        self._data_spec = data_spec
        self._table_name = table_name
        self._sequence_length = sequence_length
        self._local_server = local_server
        self._server_address = server_address or f"localhost:{local_server.port}"
        self._dataset_buffer_size = dataset_buffer_size
        self._rate_limiter_timeout_ms = rate_limiter_timeout_ms
        self._py_client = reverb.Client(self._server_address)
        self._table_info = self.get_table_info()
        self._deterministic_table = (self._table_info.sampler_options.is_deterministic
                                     and self._table_info.remover_options.is_deterministic)
        self._capacity = self._table_info.max_size

    @property
    def data_spec(self):
        return self._data_spec

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def py_client(self) -> reverb.Client:
        return self._py_client

    @property
    def local_server(self):
        return self._local_server

    def get_table_info(self):
        return self._py_client.server_info()[self._table_name]

    def num_frames(self) -> int:
        """The number of items in the table."""
        return self.get_table_info().current_size

    def add_batch(self, items):
        raise NotImplementedError("ReverbReplayBuffer does not support `add_batch`. See "
                                  "`reverb_utils.ReverbAddTrajectoryObserver` to add data to the buffer.")

    def get_next(self, sample_batch_size=None, num_steps=None, time_stacked=True):
        raise NotImplementedError("ReverbReplayBuffer does not support `get_next`.")

    def gather_all(self):
        raise NotImplementedError("ReverbReplayBuffer does not support `gather_all`.")

    def clear(self) -> None:
        self._py_client.reset(self._table_name)

    def update_priorities(self, keys, priorities) -> None:
        keys = np.asarray(keys).reshape(-1)
        priorities = np.asarray(priorities, np.float64).reshape(-1)
        self._py_client.mutate_priorities(self._table_name, updates=dict(zip(keys.tolist(), priorities.tolist())))

    def _verify_num_steps(self, num_steps) -> None:
        if num_steps and self._sequence_length:
            if num_steps > self._sequence_length:
                raise ValueError(
                    "Can not guarantee sequential data for num_steps as sequence length of the data is smaller. "
                    f"This is not supported.  num_steps > sequence_length ({num_steps} vs. "
                    f"{self._sequence_length})")
            if self._sequence_length % num_steps != 0:
                raise ValueError("Can not guarantee sequential data since sequence_length is not a multiple of "
                                 f"num_steps ({num_steps} vs. {self._sequence_length})")

    def as_dataset(self, sample_batch_size: int | None = None, num_steps: int | None = None,
                   num_parallel_calls=None, sequence_preprocess_fn=None,
                   single_deterministic_pass: bool = False, prefetch: int = 2, seed: int | None = None):
        """An iterator of `(trajectory, info)` batches; see the module docstring."""
        self._verify_num_steps(num_steps)
        if num_parallel_calls and sample_batch_size and num_parallel_calls > sample_batch_size:
            raise ValueError("num_parallel_calls cannot be bigger than sample_batch_size "
                             f"{num_parallel_calls} > {sample_batch_size}")
        if single_deterministic_pass and not self._deterministic_table:
            raise ValueError("Unable to perform a single deterministic pass over the dataset, since either the "
                             f"sampler or the remover is not deterministic (FIFO or Heap). Table info:\n"
                             f"{self._table_info}")
        return _Dataset(self, sample_batch_size, num_steps, sequence_preprocess_fn,
                        0 if single_deterministic_pass else prefetch, seed)


class _Dataset:
    """Iterator of batches, produced by a background thread (or inline when `prefetch == 0`)."""

    def __init__(self, buffer: ReverbReplayBuffer, batch_size, num_steps, preprocess, prefetch, seed):
        self._buffer, self._batch_size, self._preprocess = buffer, batch_size, preprocess
        self._split = num_steps if num_steps and num_steps != buffer._sequence_length else None
        self._rng = np.random.default_rng(seed)
        self._rows: list = []   # split rows waiting to be batched (already shuffled)
        self._checked = False
        self._unflatten_fn = None
        self._stopped = threading.Event()
        self._queue: queue.Queue | None = None
        if prefetch:
            self._queue = queue.Queue(maxsize=prefetch)
            self._thread = threading.Thread(target=self._produce, daemon=True)
            self._thread.start()

    def __iter__(self):
        return self

    def prefetch(self, buffer_size: int) -> "_Dataset":
        """`tf.data.Dataset.prefetch`: the same batches, up to `buffer_size` of them made ahead by the
        background thread (`tf.data.AUTOTUNE`, -1, keeps the depth `as_dataset` set)."""
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, (int, np.integer)) or buffer_size < -1:
            raise ValueError(f"prefetch: `buffer_size` must be an integer >= 0 (or -1, AUTOTUNE), got {buffer_size!r}")
        if self._queue is not None and buffer_size > 0:
            with self._queue.mutex:
                self._queue.maxsize = int(buffer_size)
        return self

    def __next__(self):
        if self._queue is None:
            return self._next_batch()
        item = self._queue.get()
        if item is _STOP:
            self._queue.put(_STOP)
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stopped.set()

    def __del__(self):
        self._stopped.set()

    def _produce(self) -> None:
        while not self._stopped.is_set():
            try:
                batch = self._next_batch()
            except StopIteration:
                batch = _STOP
            except BaseException as err:  # noqa: BLE001 - handed to the consumer
                batch = err
            while not self._stopped.is_set():  # (after `close` nobody takes it: the thread ends)
                try:
                    self._queue.put(batch, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if batch is _STOP or isinstance(batch, BaseException):
                return

    def _sample(self, n: int):
        """`n` items as (info arrays, flat columns); waits by the buffer's timeout, in short slices."""
        timeout = self._buffer._rate_limiter_timeout_ms
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout / 1000
        client = self._buffer._py_client
        while True:
            if self._stopped.is_set():
                raise StopIteration
            slice_ms = 100 if deadline is None else max(0, min(100, int((deadline - time.monotonic()) * 1000)))
            try:
                return client.sample_batch(self._buffer._table_name, n, timeout_ms=slice_ms)
            except DeadlineExceededError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise StopIteration from None

    def _sequences(self, n: int) -> list:
        """At least `n` sampled sequences as (trajectory [T], info [T]) pairs, in sample order."""
        out = []
        unflatten = self._unflatten()
        while len(out) < n:
            info, flat = self._sample(n - len(out))
            for i, cols in enumerate(_per_item(flat, len(info.key))):
                length = np.shape(cols[0])[0]
                out.append((unflatten(cols), SampleInfo(*(np.repeat(np.asarray(v)[i], length) for v in info))))
        return out

    def _unflatten(self):
        if self._unflatten_fn is None:
            server = reverb.server.find_server(self._buffer._server_address)
            self._unflatten_fn = server.table(self._buffer._table_name).unflatten
        return self._unflatten_fn

    def _next_batch(self):
        n = self._batch_size or 1
        if self._split is None and self._preprocess is None:
            info, flat = self._sample(n)
            while len(info.key) < n:
                more_info, more = self._sample(n - len(info.key))
                info = SampleInfo(*(np.concatenate([a, b]) for a, b in zip(info, more_info)))
                flat = [np.concatenate([a, b]) for a, b in zip(flat, more)]
            if isinstance(flat, _Ragged):
                raise ValueError("items of different lengths cannot be batched; use sample_batch_size=None")
            traj = self._unflatten()(flat)
            length = np.shape(jax.tree.leaves(traj)[0])[1]
            info = SampleInfo(*(np.repeat(np.asarray(v)[:, None], length, axis=1) for v in info))
            return self._finish(traj, info)
        while len(self._rows) < n:
            for traj, info in self._sequences(max(1, n - len(self._rows))):
                if self._preprocess is not None:
                    traj = self._preprocess(traj)
                self._rows.extend(self._cut(traj, info))
            self._rng.shuffle(self._rows)
        rows, self._rows = self._rows[:n], self._rows[n:]
        traj = jax.tree.map(lambda *xs: np.stack(xs), *[r[0] for r in rows])
        info = SampleInfo(*(np.stack(xs) for xs in zip(*[r[1] for r in rows])))
        return self._finish(traj, info)

    def _cut(self, traj, info) -> list:
        if self._split is None:
            return [(traj, info)]
        k = self._split
        rows = np.shape(jax.tree.leaves(traj)[0])[0] // k
        return [(jax.tree.map(lambda x: x[r * k:(r + 1) * k], traj),
                 SampleInfo(*(v[r * k:(r + 1) * k] for v in info))) for r in range(rows)]

    def _finish(self, traj, info):
        if not self._checked:
            _check_spec(self._buffer._data_spec, traj)
            self._checked = True
        if self._batch_size is None:
            traj = jax.tree.map(lambda x: x[0], traj)
            info = SampleInfo(*(v[0] for v in info))
        return traj, info


def _per_item(flat, n: int) -> list:
    """Flat column lists, one per sampled item (each column [T, ...])."""
    if isinstance(flat, _Ragged):
        return [[c[0] for c in item] for item in flat]
    return [[c[i] for c in flat] for i in range(n)]


def _check_spec(data_spec, traj) -> None:
    """Sampled experience must have the data spec's structure, dtypes and per-step shapes."""
    specs, values = array_spec.flatten(data_spec), jax.tree.leaves(traj)
    if len(specs) != len(values):
        raise ValueError(f"sampled experience has {len(values)} leaves, the data_spec {len(specs)}: {data_spec}")
    for spec, value in zip(specs, values):
        if value.dtype != spec.dtype or value.shape[2:] != spec.shape:
            raise ValueError(f"sampled experience does not match data_spec: got shape {value.shape[2:]} dtype "
                             f"{value.dtype} per step, expected {spec!r}")
