"""What every agent and trainer shares: `Variable`, `Checkpointer`, `function`.

Mirrors `tf_agents.utils.common`. `Variable` stands in for the `tf.Variable`s that
TF-Agents code passes around (the train step counter above all); `Checkpointer`
saves and restores any objects that expose their state as a pytree, on
orbax-checkpoint (atomic: a save interrupted at any moment leaves the previous
checkpoint loadable).
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np


@runtime_checkable
class Checkpointable(Protocol):
    """An object whose whole state is a pytree of arrays.

    An object whose arrays change shape as it runs (a replay table's contents) sets
    `checkpoint_shapes_vary = True`: its state, nested dicts of arrays, is saved apart as
    one `.npz` blob (empty arrays included) and restored as saved.
    """

    def get_checkpoint_state(self) -> Any: ...

    def set_checkpoint_state(self, state: Any) -> None: ...


class Variable:
    """A mutable holder for a pytree (a scalar by default), as ported code uses a `tf.Variable`:
    `.assign(v)`, `.assign_add(d)`, `.numpy()`, `.value()`, `int(v)`, `float(v)`."""

    def __init__(self, value: Any = 0, dtype=None, name: str = "Variable"):
        self.name = name
        self._dtype = dtype
        self._value = None
        self.assign(value)

    def assign(self, value) -> "Variable":
        if self._dtype is not None:
            value = np.asarray(value, self._dtype)
        self._value = value
        return self

    def assign_add(self, delta) -> "Variable":
        return self.assign(self._value + delta)

    def value(self):
        return self._value

    def read_value(self):
        return self._value

    def numpy(self):
        return jax.tree.map(np.asarray, self._value)

    def __int__(self) -> int:
        return int(np.asarray(self._value))

    def __index__(self) -> int:
        return int(self)

    def __float__(self) -> float:
        return float(np.asarray(self._value))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._value, dtype)

    def __eq__(self, other):
        return np.asarray(self._value) == np.asarray(other)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, value={self._value!r})"

    def get_checkpoint_state(self):
        return self._value

    def set_checkpoint_state(self, state) -> None:
        self.assign(state)


def create_variable(name: str, initial_value=0, dtype=np.int64, shape=()) -> Variable:
    """`common.create_variable`: a `Variable` holding `initial_value` (broadcast to `shape`)."""
    return Variable(np.broadcast_to(np.asarray(initial_value, dtype), shape).copy(), dtype, name)


def function(fn=None, **jit_kwargs):
    """`common.function` (TF's `tf.function`): here `jax.jit`. Used as `@common.function` or
    `common.function(agent.train)`; on a bound method of a stateful shell (e.g. `agent.train`,
    which already compiles its pure core) it returns the method unchanged."""
    if fn is None:
        return functools.partial(function, **jit_kwargs)
    if getattr(fn, "__self__", None) is not None:
        return fn
    return jax.jit(fn, **jit_kwargs)


class CheckpointError(RuntimeError):
    """A checkpoint could not be read: names the directory and the cause."""


def _state_of(name: str, obj) -> Any:
    if isinstance(obj, Checkpointable):
        return obj.get_checkpoint_state()
    raise TypeError(f"Checkpointer: `{name}` must have get_checkpoint_state()/set_checkpoint_state() "
                    f"(an agent, a Variable, a metric, a policy...), got {type(obj).__name__}")


def _describe(tree) -> str:
    return str(jax.tree.map(lambda x: f"{np.shape(x)}:{np.asarray(x).dtype}", tree))


class Checkpointer:
    """Saves and restores `**objects` under `ckpt_dir/<step>/` (orbax), keeping the last `max_to_keep`.

    As `tf_agents.utils.common.Checkpointer`: `initialize_or_restore()` restores the latest
    checkpoint if there is one (else leaves the objects as they are), `save(global_step)`
    writes one. Each object exposes its state as a pytree (`get_checkpoint_state` /
    `set_checkpoint_state`). Orbax writes into a temporary directory and renames it when
    complete, so a save killed at any moment leaves the last complete checkpoint loadable.
    """

    def __init__(self, ckpt_dir: str | Path, max_to_keep: int = 20, **objects):
        import orbax.checkpoint as ocp

        if max_to_keep < 1:
            raise ValueError(f"Checkpointer: `max_to_keep` must be >= 1, got {max_to_keep}")
        if not objects:
            raise ValueError("Checkpointer: give the objects to checkpoint as keyword arguments, e.g. agent=agent")
        for name, obj in objects.items():
            _state_of(name, obj)
        self._dir = Path(ckpt_dir).absolute()
        self._objects = objects
        self._ocp = ocp
        self._manager = ocp.CheckpointManager(
            self._dir, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                                            enable_async_checkpointing=False))

    @property
    def directory(self) -> Path:
        return self._dir

    def _split(self) -> tuple[dict, dict]:
        """(objects with fixed shapes, objects whose shapes vary)."""
        varying = {n: o for n, o in self._objects.items() if getattr(o, "checkpoint_shapes_vary", False)}
        return {n: o for n, o in self._objects.items() if n not in varying}, varying

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, global_step) -> Path:
        """Write every object's state as checkpoint `global_step` (an int or a `Variable`)."""
        step = int(global_step)
        args = self._ocp.args
        fixed, varying = self._split()
        tree = jax.tree.map(np.asarray, {name: _state_of(name, obj) for name, obj in fixed.items()})
        items = {"state": args.StandardSave(tree)}
        items.update({f"varying_{name}": args.StandardSave({"npz": _pack(_state_of(name, obj))})
                      for name, obj in varying.items()})
        if step in self._manager.all_steps():
            self._manager.delete(step)
        self._manager.save(step, args=args.Composite(**items))
        self._manager.wait_until_finished()
        return self._dir / str(step)

    def initialize_or_restore(self, step: int | None = None) -> int | None:
        """Restore checkpoint `step` (default: the latest) into the objects; returns the step
        restored, or None when there is no checkpoint yet."""
        step = self._manager.latest_step() if step is None else step
        if step is None:
            return None
        args = self._ocp.args
        fixed, varying = self._split()
        template = jax.tree.map(np.asarray, {name: _state_of(name, obj) for name, obj in fixed.items()})
        items = {"state": args.StandardRestore(template)}
        items.update({f"varying_{name}": args.StandardRestore() for name in varying})
        try:
            composite = self._manager.restore(step, args=args.Composite(**items))
            restored = dict(composite["state"])
            restored.update({name: _unpack(composite[f"varying_{name}"]["npz"]) for name in varying})
        except FileNotFoundError as err:
            raise CheckpointError(f"checkpoint {self._dir / str(step)} is missing files: {err}") from err
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(
                f"checkpoint {self._dir / str(step)} does not match the objects being restored "
                f"(another agent or network size?): {_short(err)}") from err
        except Exception as err:  # orbax/tensorstore raise their own types for damaged files
            raise CheckpointError(f"checkpoint {self._dir / str(step)} is damaged or unreadable: "
                                  f"{_short(err)}") from err
        for name, obj in fixed.items():
            want, got = jax.tree.structure(template[name]), jax.tree.structure(restored[name])
            shapes_match = want == got and all(
                np.shape(a) == np.shape(b) for a, b in zip(jax.tree.leaves(template[name]),
                                                            jax.tree.leaves(restored[name])))
            if not shapes_match:
                raise CheckpointError(f"checkpoint {self._dir / str(step)}: `{name}` has shapes "
                                      f"{_describe(restored[name])}, expected {_describe(template[name])}")
        for name, obj in self._objects.items():
            obj.set_checkpoint_state(restored[name])
        logging.getLogger(__name__).info("restored checkpoint %s", self._dir / str(step))
        return step


def _pack(state: dict) -> np.ndarray:
    """Nested dicts of arrays as the bytes of one `.npz` (keys joined with '/')."""
    import io

    flat = {}

    def walk(prefix, node):
        if isinstance(node, dict):
            for key, value in node.items():
                if "/" in str(key):
                    raise ValueError(f"Checkpointer: key {key!r} may not contain '/'")
                walk(f"{prefix}/{key}" if prefix else str(key), value)
        else:
            flat[prefix] = np.asarray(node)

    walk("", state)
    buffer = io.BytesIO()
    np.savez(buffer, **flat)
    return np.frombuffer(buffer.getvalue(), np.uint8).copy()


def _unpack(blob) -> dict:
    import io

    state: dict = {}
    with np.load(io.BytesIO(np.asarray(blob, np.uint8).tobytes()), allow_pickle=False) as data:
        for key in data.files:
            *parents, leaf = key.split("/")
            node = state
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = data[key]
    return state


def _short(err: BaseException, limit: int = 400) -> str:
    text = re.sub(r"\s+", " ", str(err)).strip()
    return text if len(text) <= limit else text[:limit] + "..."


# TD losses, returns and target updates (TF-Agents keeps them in `common`; they live in their own modules).
from agentax.utils.losses import element_wise_huber_loss, element_wise_squared_loss  # noqa: E402, F401
from agentax.utils.target_update import periodic_soft_update, soft_variables_update  # noqa: E402, F401
from agentax.utils.value_ops import compute_returns  # noqa: E402, F401
