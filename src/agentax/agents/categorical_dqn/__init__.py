"""Categorical DQN, C51 (Bellemare et al., 2017)."""
