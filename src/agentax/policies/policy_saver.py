"""`PolicySaver`: a `JaxPolicy` exported with `jax.export`, to run without agentax's training stack.

Mirrors `tf_agents.policies.policy_saver.PolicySaver`. `save(export_dir)` writes::

    export_dir/
      action.jaxexport             action(params, time_step, policy_state, key) -> PolicyStep leaves
      get_initial_state.jaxexport  get_initial_state(batch-sized dummy) -> policy state leaves
      distribution.jaxexport       where the policy has `distribution` (its fields, and the state)
      policy_specs.json            time_step/action/policy_state/info specs: nests, shapes, dtypes, bounds, names
      metadata.json                train_step, agentax and jax versions, policy class, batch size, key shape
      variables/params.npz         the parameter leaves, as plain arrays (p0, p1, ...)
      variables/params.json        their tree paths, shapes and dtypes, and train_step

The functions take flat lists of arrays (parameters, time step, policy state), so
loading needs no pytree registrations and no flax; the loader
(`agentax.policies.policy_loader.load`) rebuilds the nests from `policy_specs.json`.
Parameters are an argument, so `save_checkpoint` can ship new weights without a
new export. Every write goes to a temporary folder that is renamed into place
only once complete.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import export

import agentax
from agentax.specs import array_spec
from agentax.trajectories import policy_step, time_step as ts, trajectory

FORMAT_VERSION = 1
POLICY_SPECS_JSON = "policy_specs.json"
METADATA_JSON = "metadata.json"
VARIABLES_DIR = "variables"
PARAMS_NPZ = "params.npz"
PARAMS_JSON = "params.json"
EXPORT_SUFFIX = ".jaxexport"
DEFAULT_PLATFORMS = ("cpu", "cuda")


# ---------------------------------------------------------------- spec nests <-> JSON

_NAMEDTUPLES = {f"{cls.__module__}.{cls.__name__}": cls
                for cls in (ts.TimeStep, policy_step.PolicyStep, trajectory.Trajectory, trajectory.Transition)}


def _json_array(value: np.ndarray):
    """Nested lists; non-finite floats as strings, since JSON has no infinity."""
    if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
        return np.asarray(value, np.float64).astype(str).tolist()
    return value.tolist()


def spec_to_json(nest) -> Any:
    """A JSON-able description of a nest of `ArraySpec`s (dicts, lists, tuples, NamedTuples)."""
    if isinstance(nest, array_spec.ArraySpec):
        out = {"kind": type(nest).__name__, "shape": list(nest.shape), "dtype": nest.dtype.name,
               "name": nest.name}
        if isinstance(nest, array_spec.BoundedArraySpec):
            out["minimum"] = _json_array(nest.minimum)
            out["maximum"] = _json_array(nest.maximum)
        return out
    if isinstance(nest, tuple) and hasattr(nest, "_fields"):
        return {"kind": "namedtuple", "type": f"{type(nest).__module__}.{type(nest).__name__}",
                "fields": [[name, spec_to_json(value)] for name, value in zip(nest._fields, nest)]}
    if isinstance(nest, (tuple, list)):
        return {"kind": type(nest).__name__, "items": [spec_to_json(x) for x in nest]}
    if isinstance(nest, dict):
        if not all(isinstance(k, str) for k in nest):
            raise TypeError(f"spec_to_json: dict keys must be strings, got {list(nest)}")
        return {"kind": "dict", "items": {k: spec_to_json(v) for k, v in nest.items()}}
    if nest is None:
        return {"kind": "none"}
    raise TypeError(f"spec_to_json: cannot describe {type(nest).__name__} in a spec nest: {nest!r}")


def _dtype(name: str) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError:
        return jnp.dtype(name)  # ml_dtypes (bfloat16, ...), registered by jax


def spec_from_json(data) -> Any:
    """Inverse of `spec_to_json` (unknown NamedTuple types come back as `collections.namedtuple`)."""
    kind = data["kind"]
    if kind in ("ArraySpec", "BoundedArraySpec"):
        dtype = _dtype(data["dtype"])
        if kind == "ArraySpec":
            return array_spec.ArraySpec(data["shape"], dtype, data["name"])
        bound = lambda b: np.asarray(b).astype(dtype)
        return array_spec.BoundedArraySpec(data["shape"], dtype, bound(data["minimum"]), bound(data["maximum"]),
                                           data["name"])
    if kind == "namedtuple":
        names = [name for name, _ in data["fields"]]
        cls = _NAMEDTUPLES.get(data["type"])
        if cls is None or list(cls._fields) != names:
            import collections
            cls = collections.namedtuple(data["type"].rsplit(".", 1)[-1], names)
        return cls(*[spec_from_json(value) for _, value in data["fields"]])
    if kind == "tuple":
        return tuple(spec_from_json(x) for x in data["items"])
    if kind == "list":
        return [spec_from_json(x) for x in data["items"]]
    if kind == "dict":
        return {k: spec_from_json(v) for k, v in data["items"].items()}
    if kind == "none":
        return None
    raise ValueError(f"spec_from_json: unknown kind {kind!r}")


def _is_spec(x) -> bool:
    return isinstance(x, array_spec.ArraySpec)


def spec_structure(spec_nest):
    """The treedef of a spec nest (specs are leaves)."""
    return jax.tree.structure(spec_nest, is_leaf=_is_spec)


def flatten_as(spec_nest, value, what: str) -> list:
    """The leaves of `value`, which must have the structure of `spec_nest`."""
    try:
        return spec_structure(spec_nest).flatten_up_to(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"`{what}` does not match the structure of its spec.\n  spec: {spec_nest}\n"
                         f"  value: {value}\n  ({err})") from None


# ---------------------------------------------------------------- files

def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_json(path: Path, obj) -> None:
    _write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def _replace_dir(target: Path, write: Callable[[Path], None]) -> None:
    """Run `write(tmp)` on a fresh folder beside `target`, then rename it to `target`.

    An existing `target` is moved aside only after `write` has succeeded, then deleted.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(tmp)
        os.chmod(tmp, 0o755)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(target, old)
    os.rename(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _class_path(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


# ---------------------------------------------------------------- the saver

class PolicySaver:
    """Exports `policy` (a `JaxPolicy`) once; `save` and `save_checkpoint` write it with its current params.

    Args:
      policy: a `JaxPolicy`, with its `params` set (unless it needs none, like `RandomJaxPolicy`).
      batch_size: the batch size the saved functions take; None (default) exports a
        symbolic batch dimension, so one export serves every batch size.
      train_step: the train step to record, read at each save: an int, an array, or a
        callable returning one (e.g. `lambda: agent.train_step_counter`); -1 when None.
      platforms: the platforms to lower for (`jax.export`); CPU and CUDA by default.
      metadata: extra JSON-able values stored in `metadata.json`.
    """

    def __init__(self, policy, batch_size: int | None = None, train_step=None,
                 platforms: Sequence[str] = DEFAULT_PLATFORMS, metadata: dict | None = None):
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"PolicySaver: `batch_size` must be None or an int > 0, got {batch_size!r}")
        self._policy = policy
        self._batch_size = batch_size
        self._train_step = train_step
        self._extra_metadata = dict(metadata or {})
        json.dumps(self._extra_metadata)  # fail now, not at save time

        path_leaves, self._params_treedef = jax.tree_util.tree_flatten_with_path(policy.params)
        self._param_paths = [jax.tree_util.keystr(path) for path, _ in path_leaves]
        param_avals = [jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x)) for _, x in path_leaves]
        self._param_avals = param_avals

        batch = export.symbolic_shape("b")[0] if batch_size is None else batch_size
        batched = lambda spec: jax.ShapeDtypeStruct((batch,) + spec.shape, spec.dtype)
        jax_ts_spec = array_spec.to_jax_spec(policy.time_step_spec)
        jax_state_spec = array_spec.to_jax_spec(policy.policy_state_spec)
        ts_avals = [batched(s) for s in array_spec.flatten(jax_ts_spec)]
        state_avals = [batched(s) for s in array_spec.flatten(jax_state_spec)]
        key_aval = jax.ShapeDtypeStruct(jax.random.PRNGKey(0).shape, jnp.uint32)
        self._key_shape = list(key_aval.shape)

        ts_def, state_def = spec_structure(jax_ts_spec), spec_structure(jax_state_spec)
        params_def = self._params_treedef
        specs = (policy.action_spec, policy.policy_state_spec, policy.info_spec)

        def inputs(param_leaves, ts_leaves, state_leaves):
            return params_def.unflatten(param_leaves), ts_def.unflatten(ts_leaves), state_def.unflatten(state_leaves)

        def action_fn(param_leaves, ts_leaves, state_leaves, key):
            step = policy.action(*inputs(param_leaves, ts_leaves, state_leaves), key)
            return tuple(flatten_as(spec, value, f"PolicyStep.{field}")
                         for spec, value, field in zip(specs, step, ("action", "state", "info")))

        def initial_state_fn(batch_like):
            return flatten_as(policy.policy_state_spec, policy.get_initial_state(batch_like.shape[0]),
                              "get_initial_state()")

        def lower(fn, *avals):
            return export.export(jax.jit(fn), platforms=tuple(platforms))(*avals).serialize()

        try:
            self._exported = {"action": lower(action_fn, param_avals, ts_avals, state_avals, key_aval)}
        except Exception as err:
            if policy.params is None:
                err.add_note(f"PolicySaver: `policy.params` of {_class_path(policy)} is None; set them first")
            raise
        self._exported["get_initial_state"] = lower(initial_state_fn, jax.ShapeDtypeStruct((batch,), jnp.uint8))
        self._distribution = None
        if callable(getattr(policy, "distribution", None)):
            described = {}

            def distribution_fn(param_leaves, ts_leaves, state_leaves):
                step = policy.distribution(*inputs(param_leaves, ts_leaves, state_leaves))
                arrays, described["leaves"] = _split_distributions(step.action, policy.action_spec)
                return arrays, flatten_as(policy.policy_state_spec, step.state, "PolicyStep.state")

            try:
                self._exported["distribution"] = lower(distribution_fn, param_avals, ts_avals, state_avals)
                self._distribution = described
            except (TypeError, NotImplementedError) as err:  # as TF-Agents: warn, save the rest
                warnings.warn(f"PolicySaver: {_class_path(policy)}.distribution is not saved: {err}")

    @property
    def policy(self):
        return self._policy

    def get_train_step(self) -> int:
        """The train step a save made now would record."""
        step = self._train_step() if callable(self._train_step) else self._train_step
        return -1 if step is None else int(step)

    def _params_and_index(self) -> tuple[list, dict]:
        params = self._policy.params
        path_leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
        if treedef != self._params_treedef:
            raise ValueError(f"PolicySaver: the policy's params changed structure since export.\n"
                             f"  exported: {self._params_treedef}\n  now: {treedef}")
        leaves = []
        for (_, leaf), aval, path in zip(path_leaves, self._param_avals, self._param_paths):
            arr = np.asarray(leaf)
            if arr.shape != aval.shape or arr.dtype != aval.dtype:
                raise ValueError(f"PolicySaver: param {path} is {arr.dtype}{list(arr.shape)}, "
                                 f"exported as {aval.dtype}{list(aval.shape)}")
            leaves.append(arr)
        index = {
            "format": FORMAT_VERSION,
            "train_step": self.get_train_step(),
            "policy_class": _class_path(self._policy),
            "agentax_version": agentax.__version__,
            "params": [{"path": p, "shape": list(a.shape), "dtype": a.dtype.name}
                       for p, a in zip(self._param_paths, leaves)],
        }
        return leaves, index

    @staticmethod
    def _write_variables(folder: Path, leaves: list, index: dict) -> None:
        folder.mkdir(exist_ok=True)
        with open(folder / PARAMS_NPZ, "wb") as f:
            np.savez(f, **{f"p{i}": leaf for i, leaf in enumerate(leaves)})
            f.flush()
            os.fsync(f.fileno())
        _write_json(folder / PARAMS_JSON, index)

    def save(self, export_dir: str | os.PathLike) -> None:
        """Write the exported functions, specs, metadata and current params to `export_dir`."""
        leaves, index = self._params_and_index()
        p = self._policy
        specs = {"format": FORMAT_VERSION,
                 **{name: spec_to_json(getattr(p, name))
                    for name in ("time_step_spec", "action_spec", "policy_state_spec", "info_spec")}}
        metadata = {
            **self._extra_metadata,
            "format": FORMAT_VERSION,
            "train_step": index["train_step"],
            "policy_class": index["policy_class"],
            "agentax_version": agentax.__version__,
            "jax_version": jax.__version__,
            "batch_size": self._batch_size,
            "functions": sorted(self._exported),
            "key_shape": self._key_shape,
            "distribution": self._distribution,
            "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }

        def write(tmp: Path) -> None:
            for name, data in self._exported.items():
                _write_bytes(tmp / f"{name}{EXPORT_SUFFIX}", bytes(data))
            _write_json(tmp / POLICY_SPECS_JSON, specs)
            self._write_variables(tmp / VARIABLES_DIR, leaves, index)
            _write_json(tmp / METADATA_JSON, metadata)

        _replace_dir(Path(export_dir), write)

    def save_checkpoint(self, export_dir: str | os.PathLike) -> None:
        """Write only the current params (and train step) to `export_dir/variables/`.

        A policy loaded from a full `save` takes them with `update_from_checkpoint`.
        """
        leaves, index = self._params_and_index()
        _replace_dir(Path(export_dir) / VARIABLES_DIR, lambda tmp: self._write_variables(tmp, leaves, index))


class _Unexportable(TypeError):
    """`distribution()` returned something the saver cannot describe."""


def _split_distributions(dist_nest, action_spec) -> tuple[list, list]:
    """NamedTuple distributions, one per action spec leaf, as (array fields, descriptions).

    Each description is `{"class": path, "fields": [{"name", "output": index} or {"name", "value"}]}`:
    array fields are outputs of the exported function, Python scalars (a `Categorical`'s offset) are stored.
    """
    try:
        dists = spec_structure(action_spec).flatten_up_to(dist_nest)
    except (ValueError, TypeError) as err:
        raise _Unexportable(f"its distribution does not match the action spec's structure ({err})") from None
    arrays, described = [], []
    for dist in dists:
        if not (isinstance(dist, tuple) and hasattr(dist, "_fields")):
            raise _Unexportable(f"a {type(dist).__name__} is not a NamedTuple distribution")
        fields = []
        for name, value in zip(dist._fields, dist):
            if isinstance(value, (jax.Array, np.ndarray)):
                fields.append({"name": name, "output": len(arrays)})
                arrays.append(value)
            elif isinstance(value, (bool, int, float, np.generic)):
                fields.append({"name": name, "value": np.asarray(value).item()})
            else:
                raise _Unexportable(f"field {name!r} of {type(dist).__name__} is a {type(value).__name__}")
        described.append({"class": _class_path(dist), "fields": fields})
    return arrays, described
