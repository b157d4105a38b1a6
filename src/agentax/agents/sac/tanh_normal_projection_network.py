"""TF-Agents' import path of the SAC actor head: `tf_agents.agents.sac.tanh_normal_projection_network`
-> this module; the implementation lives in `agentax.networks.tanh_normal_projection_network`."""

from agentax.networks.tanh_normal_projection_network import (TanhNormal, TanhNormalProjectionNetwork,
                                                             std_clip_transform)

__all__ = ["TanhNormal", "TanhNormalProjectionNetwork", "std_clip_transform"]
