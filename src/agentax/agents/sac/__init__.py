"""Soft Actor-Critic (Haarnoja et al., 2018): twin critics, a tanh-squashed Gaussian actor, a learned temperature."""
