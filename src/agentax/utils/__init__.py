"""Utilities shared by agents and trainers (`common`: Variable, Checkpointer, function)."""
