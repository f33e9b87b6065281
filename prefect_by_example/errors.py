"""The package's errors, importable without Prefect or Sphinx (Sphinx loads this on every build)."""


class FlowGraphError(Exception):
    """A flow that cannot be traced, a run that cannot be read, or a graph that cannot be drawn."""


class PrefectServerError(RuntimeError):
    """A Prefect server that did not start or stopped answering; the message names its log."""


class PatchVersionError(RuntimeError):
    """A patch of another library's internals meets a release it was not written for."""
