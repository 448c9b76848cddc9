"""The data adapters' errors, in one place (every adapter and the registry raise them)."""


class DatasetLayoutError(ValueError):
    """The dataset folder does not have the expected layout; the message says what is missing."""
