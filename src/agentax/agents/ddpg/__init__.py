"""DDPG (Lillicrap et al., 2015): its actor and critic networks; the critic serves TD3 and SAC too."""
