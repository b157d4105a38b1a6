"""TD3 (Fujimoto et al., 2018): DDPG with twin critics, target policy smoothing and a delayed actor."""
