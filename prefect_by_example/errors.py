"""The package's error, importable without importing Prefect (Sphinx loads it on every build)."""


class FlowGraphError(Exception):
    """A flow that cannot be traced, a run that cannot be read, or a graph that cannot be drawn."""
