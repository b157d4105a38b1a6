"""Errors raised by `agentax.reverb`, named as in `reverb.errors`."""


class ReverbError(Exception):
    """Base class of the errors agentax.reverb raises on purpose."""


class DeadlineExceededError(ReverbError, TimeoutError):
    """A blocking call ran out of time; the table was left unchanged."""


class CancelledError(ReverbError):
    """The server was stopped while a call waited on it."""
