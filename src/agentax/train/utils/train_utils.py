"""`train_utils.create_train_step`, as `tf_agents.train.utils.train_utils`."""

from __future__ import annotations

import numpy as np

from agentax.utils import common


def create_train_step() -> common.Variable:
    """The train step counter to share between an agent, an `Actor` and a `Learner`."""
    return common.create_variable("train_step", 0, dtype=np.int64)
