class DagsError(RuntimeError):
    """A one-line reason why nothing was deployed, saying what to do."""
