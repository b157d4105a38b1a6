"""Metrics: observers that summarise what a driver produced."""
