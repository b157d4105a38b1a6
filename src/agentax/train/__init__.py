"""Training, as `tf_agents.train`: `Actor`, `Learner`, `triggers`; beside them the compiled
trainer (`compiled_trainer`), evaluation, run directories (`run`) and outputs."""

from agentax.train import triggers
from agentax.train.actor import Actor
from agentax.train.learner import Learner

__all__ = ["Actor", "Learner", "triggers"]
