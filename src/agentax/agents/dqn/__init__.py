"""DQN (Mnih et al., 2015) and Double DQN (van Hasselt et al., 2015), with n-step updates."""
