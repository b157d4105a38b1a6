"""`load(export_dir)`: a policy written by `PolicySaver`, as a `PyPolicy` (NumPy in, NumPy out).

Mirrors `tf_agents.policies.policy_loader.load`. Loading and acting import jax,
numpy and agentax's specs and trajectories only: no flax, optax or gymnasium.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import sys
from pathlib import Path

import jax
import numpy as np
from jax import export

import agentax
from agentax.policies.policy_saver import (EXPORT_SUFFIX, FORMAT_VERSION, METADATA_JSON, PARAMS_JSON, PARAMS_NPZ,
                                           POLICY_SPECS_JSON, VARIABLES_DIR, flatten_as, spec_from_json,
                                           spec_structure)
from agentax.policies.py_policy import PyPolicy
from agentax.specs import array_spec
from agentax.trajectories import time_step as ts
from agentax.trajectories.policy_step import PolicyStep


class PolicyLoadError(ValueError):
    """A saved policy's folder is missing a file or holds a damaged one."""


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PolicyLoadError(f"{path}: missing ({what})") from None
    except (ValueError, OSError) as err:
        raise PolicyLoadError(f"{path}: damaged {what} ({type(err).__name__}: {err})") from None


def _read_exported(path: Path) -> export.Exported:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyLoadError(f"{path}: missing (an exported function)") from None
    try:
        return export.deserialize(bytearray(data))
    except Exception as err:  # noqa: BLE001 - flatbuffers raises many kinds on damaged bytes
        raise PolicyLoadError(f"{path}: damaged exported function, cannot deserialize "
                              f"({type(err).__name__}: {err})") from None


def _distribution_class(class_path: str, field_names: list[str]):
    """The NamedTuple class a saved distribution was; never imports flax.

    agentax's own distributions are loaded from their file when `agentax.networks`
    (which imports flax) is not imported yet; other unknown classes become plain
    `collections.namedtuple`s with the same fields.
    """
    module_name, _, name = class_path.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None and module_name == "agentax.networks.distributions":
        private = "agentax.policies._saved_distributions"
        module = sys.modules.get(private)
        if module is None:
            path = Path(agentax.__file__).parent / "networks" / "distributions.py"
            spec = importlib.util.spec_from_file_location(private, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[private] = module
            spec.loader.exec_module(module)
    cls = getattr(module, name, None)
    if cls is None or list(getattr(cls, "_fields", ())) != field_names:
        cls = collections.namedtuple(name, field_names)
    return cls


_prng_key = jax.jit(jax.random.PRNGKey)


class SavedPolicy(PyPolicy):
    """A policy loaded from a `PolicySaver` export; a `PyDriver` accepts it.

    Time steps may be unbatched or carry one leading batch dimension. Actions come
    back as NumPy arrays in the action spec's dtype. Without a `seed`, each call
    draws a fresh key from the stream started by `load(..., seed=)` (split as
    `PyJaxPolicy` splits, so both give the same actions for the same seed).
    """

    def __init__(self, export_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike | None = None,
                 seed: int = 0):
        self.export_dir = Path(export_dir)
        if not self.export_dir.is_dir():
            raise PolicyLoadError(f"{self.export_dir}: not a saved policy folder (it does not exist)")
        self._metadata = _read_json(self.export_dir / METADATA_JSON, "metadata")
        if self._metadata.get("format") != FORMAT_VERSION:
            raise PolicyLoadError(f"{self.export_dir / METADATA_JSON}: format {self._metadata.get('format')!r}, "
                                  f"this agentax reads format {FORMAT_VERSION}")
        spec_path = self.export_dir / POLICY_SPECS_JSON
        specs = _read_json(spec_path, "policy specs")
        try:
            specs = {k: spec_from_json(specs[k])
                     for k in ("time_step_spec", "action_spec", "policy_state_spec", "info_spec")}
        except (KeyError, TypeError, ValueError) as err:
            raise PolicyLoadError(f"{spec_path}: damaged policy specs ({type(err).__name__}: {err})") from None
        super().__init__(specs["time_step_spec"], specs["action_spec"], specs["policy_state_spec"],
                         specs["info_spec"])
        self._batch_size = self._metadata.get("batch_size")
        self._jax_ts_spec = array_spec.to_jax_spec(self._time_step_spec)
        self._ts_specs = array_spec.flatten(self._time_step_spec)
        self._jax_ts_dtypes = [s.dtype for s in array_spec.flatten(self._jax_ts_spec)]
        self._action_dtypes = [s.dtype for s in array_spec.flatten(self._action_spec)]
        self._ts_def = spec_structure(self._time_step_spec)
        self._action_def = spec_structure(self._action_spec)
        self._state_def = spec_structure(self._policy_state_spec)
        self._info_def = spec_structure(self._info_spec)

        functions = self._metadata.get("functions", ["action", "get_initial_state"])
        exported = {name: _read_exported(self.export_dir / f"{name}{EXPORT_SUFFIX}") for name in functions}
        args_tree = exported["action"].in_tree.children()[0]  # ((params, time_step, state, key), kwargs)
        self._param_avals = exported["action"].in_avals[:args_tree.children()[0].num_leaves]
        action_call = exported["action"].call

        def action_from_stream(params, arrays, states, key):
            key, action_key = jax.random.split(key)
            return action_call(params, arrays, states, action_key), key

        self._action_fn = jax.jit(action_call)
        self._action_from_stream_fn = jax.jit(action_from_stream)
        self._initial_state_fn = jax.jit(exported["get_initial_state"].call)
        self._distribution_fn = jax.jit(exported["distribution"].call) if "distribution" in exported else None
        description = self._metadata.get("distribution")
        if description:
            self._dists = [(_distribution_class(d["class"], [f["name"] for f in d["fields"]]), d["fields"])
                           for d in description["leaves"]]

        self._key_shape = tuple(self._metadata.get("key_shape", (2,)))
        self._key = self._as_key(seed)
        self._params = None
        self.update_from_checkpoint(self.export_dir if checkpoint_dir is None else checkpoint_dir)

    # ------------------------------------------------------------ parameters

    @property
    def metadata(self) -> dict:
        """`metadata.json`, with `train_step` from the last loaded checkpoint."""
        return dict(self._metadata)

    def get_train_step(self) -> int:
        return int(self._metadata["train_step"])

    def update_from_checkpoint(self, checkpoint_dir: str | os.PathLike) -> None:
        """Load params written by `PolicySaver.save_checkpoint` (or `save`) to `checkpoint_dir`."""
        folder = Path(checkpoint_dir) / VARIABLES_DIR
        index_path, npz_path = folder / PARAMS_JSON, folder / PARAMS_NPZ
        index = _read_json(index_path, "parameter index")
        described = index.get("params", [])
        if len(described) != len(self._param_avals):
            raise PolicyLoadError(f"{index_path}: {len(described)} parameter arrays, the exported action takes "
                                  f"{len(self._param_avals)}")
        try:
            with np.load(npz_path, allow_pickle=False) as npz:
                leaves = [npz[f"p{i}"] for i in range(len(described))]
        except FileNotFoundError:
            raise PolicyLoadError(f"{npz_path}: missing (the parameters)") from None
        except Exception as err:  # noqa: BLE001 - zipfile/numpy raise many kinds on damaged files
            raise PolicyLoadError(f"{npz_path}: damaged parameters ({type(err).__name__}: {err})") from None
        for leaf, aval, desc in zip(leaves, self._param_avals, described):
            if leaf.shape != aval.shape or leaf.dtype != aval.dtype:
                raise PolicyLoadError(f"{npz_path}: parameter {desc['path']} is {leaf.dtype}{list(leaf.shape)}, "
                                      f"the exported action takes {aval.dtype}{list(aval.shape)}")
        self._params = jax.device_put(leaves)
        self._metadata["train_step"] = index.get("train_step", self._metadata.get("train_step"))

    # ------------------------------------------------------------ acting

    def _as_key(self, seed):
        if isinstance(seed, (int, np.integer)):
            key = _prng_key(int(seed))
        elif isinstance(seed, jax.Array) and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(seed)
        else:
            key = seed
        key = np.asarray(key)
        if key.shape != self._key_shape or key.dtype != np.uint32:
            raise ValueError(f"`seed` must be an int or a raw uint32{list(self._key_shape)} key, "
                             f"got {key.dtype}{list(key.shape)}")
        return key

    def _inputs(self, time_step, policy_state):
        """Flat, batched input leaves, and whether the caller's time step was unbatched."""
        try:
            leaves = self._ts_def.flatten_up_to(time_step)
        except (ValueError, TypeError):
            leaves = flatten_as(self._time_step_spec, time_step, "time_step")  # raises with details
        outer = np.shape(leaves[0])[:np.ndim(leaves[0]) - len(self._ts_specs[0].shape)]
        if len(outer) > 1 or (self._batch_size is not None and outer not in ((), (self._batch_size,))):
            raise ValueError(f"`time_step` has outer dimensions {outer}; this policy takes "
                             f"{'one batch dimension' if self._batch_size is None else (self._batch_size,)} "
                             "or none")
        arrays = []
        for spec, dtype, leaf in zip(self._ts_specs, self._jax_ts_dtypes, leaves):
            arr = np.asarray(leaf)
            if arr.shape != outer + spec.shape or array_spec.jax_dtype(arr.dtype) != dtype:
                raise ValueError(f"`time_step` does not match its spec: {arr.dtype}{list(arr.shape)}, "
                                 f"expected {spec.dtype}{list(outer + spec.shape)}.\n  spec: {spec!r}")
            arrays.append(arr.astype(dtype, copy=False))
        states = [np.asarray(x) for x in flatten_as(self._policy_state_spec, policy_state, "policy_state")]
        if not outer:
            arrays = [a[None] for a in arrays]
            states = [s[None] for s in states]
        return arrays, states, not outer

    def get_initial_state(self, batch_size: int | None = None):
        """The initial policy state, with a leading `batch_size` dimension when given."""
        if self._state_def.num_leaves == 0:
            return self._state_def.unflatten([])
        leaves = self._initial_state_fn(np.zeros((batch_size or 1,), np.uint8))
        leaves = [np.asarray(x) if batch_size is not None else np.asarray(x)[0] for x in leaves]
        return self._state_def.unflatten(leaves)

    def action(self, time_step: ts.TimeStep, policy_state=(), seed=None) -> PolicyStep:
        """The `PolicyStep` for `time_step`; `seed` (an int or raw key) fixes the key of this call."""
        arrays, states, unbatched = self._inputs(time_step, policy_state)
        if seed is None:
            (action, state, info), self._key = self._action_from_stream_fn(self._params, arrays, states, self._key)
        else:
            action, state, info = self._action_fn(self._params, arrays, states, self._as_key(seed))
        strip = (lambda x: np.asarray(x)[0]) if unbatched else np.asarray
        action = [strip(a).astype(dtype, copy=False) for a, dtype in zip(action, self._action_dtypes)]
        return PolicyStep(self._action_def.unflatten(action), self._state_def.unflatten([strip(s) for s in state]),
                          self._info_def.unflatten([strip(i) for i in info]))

    def _action(self, time_step, policy_state) -> PolicyStep:
        return self.action(time_step, policy_state)

    def distribution(self, time_step: ts.TimeStep, policy_state=()) -> PolicyStep:
        """A `PolicyStep` whose `action` is the action distribution, or a nest of them like the action
        spec (their fields as NumPy arrays)."""
        if self._distribution_fn is None:
            raise NotImplementedError(f"{self.export_dir}: the saved policy has no `distribution` "
                                      f"(policy class {self._metadata.get('policy_class')})")
        arrays, states, unbatched = self._inputs(time_step, policy_state)
        outputs, state = self._distribution_fn(self._params, arrays, states)
        strip = (lambda x: np.asarray(x)[0]) if unbatched else np.asarray
        dists = [cls(*[strip(outputs[f["output"]]) if "output" in f else f["value"] for f in fields])
                 for cls, fields in self._dists]
        return PolicyStep(self._action_def.unflatten(dists), self._state_def.unflatten([strip(s) for s in state]), ())


def load(export_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike | None = None,
         seed: int = 0) -> SavedPolicy:
    """Load a policy saved by `PolicySaver.save`; with `checkpoint_dir`, take its params from there."""
    return SavedPolicy(export_dir, checkpoint_dir, seed)
