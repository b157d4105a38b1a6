"""PPO (Schulman et al., 2017): `PPOAgent` (adaptive KL penalty) and `PPOClipAgent` (clipped objective)."""
