"""The compiled act-step-observe loop shared by `DynamicStepDriver` and `DynamicEpisodeDriver`.

One run is a `jax.lax.while_loop` over `(env_state, time_step, policy_state,
key, observer_states, counter, iterations)`. Policy parameters are an argument,
so new parameters never recompile. The limits (`num_steps` / `num_episodes`,
`maximum_iterations`) are compile-time constants: on this project's 2-core CPU a
loop with constant limits ran up to ~20% faster than one taking them as
arguments (side-by-side runs while building the driver), so a driver compiles once
per distinct pair of limits and reuses that program for every run.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax.experimental import io_callback

from agentax.drivers import checks
from agentax.environments.jax_environment import JaxEnvironment, StatefulJaxEnvironment, as_stateful
from agentax.environments.py_environment import PyEnvironment
from agentax.core import JaxObserver
from agentax.policies.jax_policy import JaxPolicy
from agentax.specs import array_spec
from agentax.trajectories.policy_step import PolicyStep
from agentax.trajectories.trajectory import Transition, from_transition
from agentax.utils import packing

_NO_LIMIT = jnp.iinfo(jnp.int32).max


class DriverState(NamedTuple):
    """Everything one run carries between runs (a pytree)."""

    env_state: Any
    time_step: Any
    policy_state: Any
    key: Any
    observer_states: tuple
    transition_observer_states: tuple


def _check_specs_match(env: JaxEnvironment, policy: JaxPolicy) -> None:
    env_spec, policy_spec = env.action_spec(), policy.action_spec
    same = (jax.tree.structure(env_spec, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
            == jax.tree.structure(policy_spec, is_leaf=lambda x: isinstance(x, array_spec.ArraySpec))
            and all(a == b for a, b in zip(array_spec.flatten(env_spec), array_spec.flatten(policy_spec))))
    if not same:
        raise ValueError("the policy's action spec does not match the environment's:\n"
                         f"  policy.action_spec: {policy_spec}\n  env.action_spec(): {env_spec}")


def _host_observer(observer: Callable) -> Callable:
    """Call a plain Python observer from inside the compiled loop (slow: a host round
    trip per step; ordered, so not under `vmap`)."""

    def call(item):
        observer(item)

    def update(state, item):
        io_callback(call, None, item, ordered=True)
        return state

    return update


class CompiledDriver:
    """Base of the compiled drivers. Subclasses say what a loop iteration counts
    (`_count(traj)`) and may override `_loop_condition_fn()`."""

    def __init__(self, env, policy: JaxPolicy, observers: Sequence | None = None,
                 transition_observers: Sequence | None = None, limit: int = 1, limit_name: str = "num_steps",
                 seed: int = 0):
        owner = type(self).__name__
        self._limit = checks.count_limit(owner, limit_name, limit, 1)
        if isinstance(env, PyEnvironment):
            raise TypeError(f"{owner}: `env` is a Python environment ({type(env).__name__}); wrap it: "
                            "JaxPyEnvironment(env), or drive it with PyDriver")
        if not isinstance(env, (JaxEnvironment, StatefulJaxEnvironment)):
            raise TypeError(f"{owner}: `env` must be a JaxEnvironment, got {type(env).__name__}")
        if not isinstance(policy, JaxPolicy):
            raise TypeError(f"{owner}: `policy` must be a JaxPolicy, got {type(policy).__name__}")
        self.env = as_stateful(env, seed)
        self.policy = policy
        _check_specs_match(self.env.env, policy)
        self.observers = checks.callables(owner, "observers", observers)
        self.transition_observers = checks.callables(owner, "transition_observers", transition_observers)
        self._key = jax.random.PRNGKey(seed)
        self._run_jit = jax.jit(self.run_pure, static_argnums=(2, 3))

    @property
    def trace_count(self) -> int:
        """How many programs the stateful shell compiled (one per distinct limits and shapes)."""
        return self._run_jit._cache_size()

    # ---- what subclasses decide
    def _count(self, trajectory) -> jax.Array:
        raise NotImplementedError

    def _loop_condition_fn(self) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """`cond(counter, limit)`: keep looping while the counter (summed over the
        batch as it goes) is below the limit."""
        return lambda counter, limit: counter < limit

    # ---- the pure core
    def _observer_states(self, observers, keep_held: bool) -> tuple:
        """Each compiled observer's state (its held one when `keep_held`, else fresh);
        `()` for a Python callable."""
        batch_size = self.env.batch_size

        def state_of(observer):
            if not isinstance(observer, JaxObserver):
                return ()
            if keep_held and observer.state is not None:
                return observer.state
            return observer.init(batch_size)

        return tuple(state_of(o) for o in observers)

    def initial_state(self, key, policy_state=None) -> DriverState:
        """Pure: reset the environment with `key`; fresh observer states."""
        env = self.env.env
        reset_key, key = jax.random.split(key)
        env_state, time_step = env.reset(reset_key)
        if policy_state is None:
            policy_state = self.policy.get_initial_state(env.batch_size)
        return DriverState(env_state, time_step, policy_state, key, self._observer_states(self.observers, False),
                           self._observer_states(self.transition_observers, False))

    def run_pure(self, params, state: DriverState, limit=None, maximum_iterations=None,
                 iterations: int | None = None) -> DriverState:
        """Pure: one run from `state`; call it inside your own `jit`, `vmap` or train step.

        `iterations` (a Python int) runs exactly that many loop iterations, whatever the
        count, as a loop with a static trip count: for callers that know the run's length
        (a step driver whose batch rows must all be full). Under `vmap` and on a GPU it avoids
        what a data-dependent `while_loop` costs (a select of the carry, a device-to-host read
        of the condition) at every step."""
        policy = self.policy
        limit = self._limit if limit is None else limit
        maximum_iterations = _NO_LIMIT if maximum_iterations is None else maximum_iterations
        observers = [o.update if isinstance(o, JaxObserver) else _host_observer(o) for o in self.observers]
        transition_observers = [o.update if isinstance(o, JaxObserver) else _host_observer(o)
                                for o in self.transition_observers]
        condition = self._loop_condition_fn()

        def body(carry):
            state, counter, iterations = carry
            key, action_step, env_state, next_time_step = self._act_and_step(params, state)
            traj = from_transition(state.time_step, action_step, next_time_step)
            transition_states = state.transition_observer_states
            if transition_observers:
                # They see the state the action was taken with: `policy.action` resets it where
                # FIRST, so recompute that (XLA shares the computation with the one inside).
                used_state = policy.reset_state_on_first(state.time_step, state.policy_state)
                observed_step = PolicyStep(action_step.action, used_state, action_step.info)
                transition = Transition(state.time_step, observed_step, next_time_step)
                transition_states = tuple(update(s, transition) for update, s in
                                          zip(transition_observers, transition_states))
            observer_states = tuple(update(s, traj) for update, s in zip(observers, state.observer_states))
            new_state = DriverState(env_state, next_time_step, action_step.state, key, observer_states,
                                    transition_states)
            return new_state, counter + jnp.sum(self._count(traj)), iterations + 1

        def cond(carry):
            _, counter, iterations = carry
            return condition(counter, limit) & (iterations < maximum_iterations)

        if iterations is not None:
            final, _, _ = jax.lax.fori_loop(0, iterations, lambda _, carry: body(carry),
                                            (state, jnp.int32(0), jnp.int32(0)))
            return final
        final, _, _ = jax.lax.while_loop(cond, body, (state, jnp.int32(0), jnp.int32(0)))
        return final

    def _act_and_step(self, params, state: DriverState):
        """One loop iteration's act and step: `(next key, action step, env state, next time step)`."""
        key, policy_key = jax.random.split(state.key)
        action_step = self.policy.action(params, state.time_step, state.policy_state, policy_key)
        env_state, next_time_step = self.env.env.step(state.env_state, action_step.action)
        return key, action_step, env_state, next_time_step

    def collect_pure(self, params, state: DriverState, iterations: int) -> tuple[DriverState, Any]:
        """Pure: exactly `iterations` loop iterations as a `lax.scan` that returns their trajectories
        stacked time-major (`[iterations, batch, ...]`) instead of calling the observers, whose
        states come back untouched: for a caller that observes the whole run at once (the compiled
        trainer's on-policy collection writes its recorder and counts its metrics after the loop).
        The actions, environment steps, random stream and trajectories are those of
        `run_pure(params, state, iterations=iterations)`. On a GPU each observer update inside the
        loop is a kernel launch per step (a recorder write per trajectory leaf, a reduction per
        metric); here the loop holds only the policy, the environment and one write per dtype (the
        trajectory's leaves packed, `utils.packing`)."""
        iterations = checks.count_limit(f"{type(self).__name__}.collect_pure", "iterations", iterations, 1)
        loop_state = (state.env_state, state.time_step, state.policy_state, state.key)

        def body(carry, _):
            key, action_step, env_state, next_time_step = self._act_and_step(
                params, state._replace(env_state=carry[0], time_step=carry[1], policy_state=carry[2], key=carry[3]))
            traj, layout[0] = packing.pack(from_transition(carry[1], action_step, next_time_step),
                                           batch_ndim=jnp.ndim(carry[1].step_type))
            return (env_state, next_time_step, action_step.state, key), traj

        layout = [None]  # the packing's layout, set while `body` is traced
        (env_state, time_step, policy_state, key), packed = jax.lax.scan(body, loop_state, None, iterations)
        return state._replace(env_state=env_state, time_step=time_step, policy_state=policy_state,
                              key=key), packing.unpack(packed, layout[0])

    # ---- the stateful shell
    def _run(self, time_step, policy_state, limit, maximum_iterations, params):
        env = self.env
        if policy_state is None:
            policy_state = self.policy.get_initial_state(env.batch_size)
        if env.state is None:
            env.reset()
        self._key, key = jax.random.split(self._key)
        state = DriverState(env.state, time_step, policy_state, key, self._observer_states(self.observers, True),
                            self._observer_states(self.transition_observers, True))
        params = self.policy.params if params is None else params
        maximum_iterations = checks.count_limit(f"{type(self).__name__}.run", "maximum_iterations",
                                                maximum_iterations, 1)
        final = self._run_jit(params, state, int(limit), maximum_iterations)
        env.set_state(final.env_state, final.time_step)
        for observers, states in ((self.observers, final.observer_states),
                                  (self.transition_observers, final.transition_observer_states)):
            for observer, observer_state in zip(observers, states):
                if isinstance(observer, JaxObserver):
                    observer.state = observer_state
        return final.time_step, final.policy_state
