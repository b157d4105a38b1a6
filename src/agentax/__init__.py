"""agentax: TF-Agents' design on NumPy, Gymnasium and JAX."""

__version__ = "0.1.0"
