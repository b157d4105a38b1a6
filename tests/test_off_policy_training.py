"""Off-policy agents on both trainers: replay in the checkpoint, exact compiled resume, initial collect."""

import dataclasses

import jax
import numpy as np

from agentax.agents.dqn.config import DqnConfig
from agentax.train.compiled_trainer import CompiledTrainer
from agentax.train.python_trainer import PythonTrainer
from agentax.train.run import train_run
from agentax.utils import common

# No learning-rate decay: it spans `iterations`, so a run continued to more iterations would follow
# another schedule than one started with them.
SMALL = DqnConfig(iterations=4, num_envs=2, collect_steps_per_iteration=8, train_steps_per_iteration=3,
                  initial_collect_steps=20, replay_capacity=200, sample_batch_size=4, fc_layer_params=(8,),
                  eval_interval=2, log_interval=2, num_eval_episodes=1, video_episodes=0, target_update_period=2,
                  learning_rate_decay=1.0)


def quiet(*args):
    pass


def test_compiled_replay_fills_as_the_drivers_count_and_training_moves_the_parameters():
    trainer = CompiledTrainer(SMALL)
    trainer.initialize()
    buffer = trainer.replay
    replay = jax.tree.map(lambda x: x[0], trainer.state.replay)
    # 20 random steps over 2 envs: at least 10 per env row (boundaries add rows, never fewer).
    assert int(replay.last_id) + 1 >= 10 and int(trainer.env_steps_now()[0]) >= 20
    before = trainer.state.agent
    trainer.run(1)
    after = jax.tree.map(lambda x: x[0], trainer.state.replay)
    assert int(after.last_id) >= int(replay.last_id) + 4  # 8 steps over 2 envs
    assert int(trainer.train_steps_now()[0]) == 3
    moved = jax.tree.map(lambda a, b: bool((a != b).any()), trainer.agent.policy_params(before),
                         trainer.agent.policy_params(trainer.state.agent))
    assert any(jax.tree.leaves(moved))
    assert buffer.max_length == 100


def test_compiled_off_policy_resume_is_bit_identical(tmp_path):
    full = train_run(SMALL, tmp_path / "full", progress=False, echo=quiet)
    train_run(dataclasses.replace(SMALL, iterations=2), tmp_path / "split", progress=False, echo=quiet)
    resumed = train_run(SMALL, tmp_path / "split", resume=True, progress=False, echo=quiet)
    assert full["eval_returns"] == resumed["eval_returns"]
    params = [np.load(tmp_path / d / "policies/greedy_policy/variables/params.npz") for d in ("full", "split")]
    for key in params[0].files:
        np.testing.assert_array_equal(params[0][key], params[1][key])


def test_python_off_policy_checkpoint_keeps_the_replay(tmp_path):
    config = dataclasses.replace(SMALL, trainer="python", num_envs=1, iterations=2)
    train_run(config, tmp_path / "run", progress=False, echo=quiet)
    trainer = PythonTrainer(config)
    trainer.initialize()
    assert trainer.replay.num_frames() == 0
    common.Checkpointer(tmp_path / "run" / "checkpoints", clock=common.Variable(np.zeros(2)),
                        **trainer.checkpoint_objects()).initialize_or_restore()
    # 20 initial + 2 x 8 collected steps, written as sequences of 2 (stride 1): one item per step after the
    # first of each episode, none across a boundary.
    assert 25 <= trainer.replay.num_frames() <= 36
    assert int(trainer.agent.train_step_counter) == 2 * 3 and trainer.iteration_count == 2


def test_prioritized_replay_on_both_trainers_moves_priorities_and_trains(tmp_path):
    config = dataclasses.replace(SMALL, prioritized_replay=True, priority_exponent=1.0)
    trainer = CompiledTrainer(config)
    trainer.initialize()
    before = np.asarray(trainer.state.replay.tree[0, 1])  # total weight: one per complete sequence
    assert before == float(trainer.replay.num_items(jax.tree.map(lambda x: x[0], trainer.state.replay)))
    trainer.run(2)
    assert int(trainer.train_steps_now()[0]) == 6
    assert float(trainer.state.replay.tree[0, 1]) != before  # |td_error| priorities replaced the 1s
    python = PythonTrainer(dataclasses.replace(config, trainer="python", num_envs=1))
    python.initialize()
    python.run(2)
    sampled = list(python.replay.py_client.sample(PythonTrainer.TABLE, 50, emit_timesteps=False, timeout_ms=1000))
    assert {s.info.priority for s in sampled} != {1.0}  # some items got their |td_error|
    assert int(python.train_steps_now()[0]) == 6
