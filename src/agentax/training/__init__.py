"""Training programs: the tutorials as runnable code (evaluation, plots, videos, checkpoints)."""
