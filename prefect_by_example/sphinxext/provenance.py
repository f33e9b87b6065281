"""The line under the title of every page that runs code: what it ran with, and when."""

from __future__ import annotations

from datetime import date
from importlib import metadata

from docutils import nodes
from sphinx.application import Sphinx

from .runtime import legacy_prefect_version


def mark_executed_pages(app: Sphinx, doctree) -> None:
    """Say under the title of every page that runs code what it ran with, and when."""
    from jupyter_sphinx.ast import JupyterCellNode, JupyterKernelNode

    myst_cells = list(doctree.findall(
        lambda n: isinstance(n, nodes.Element) and n.get("nb_element") == "cell_code"
    ))  # fmt: skip
    rst_cells = list(doctree.findall(JupyterCellNode))
    if not (myst_cells or rst_cells):
        return
    kernels = {n["kernel_name"] for n in doctree.findall(JupyterKernelNode)}
    kernelspec = app.env.metadata[app.env.docname].get("kernelspec") or {}
    if myst_cells and isinstance(kernelspec, dict):
        kernels.add(kernelspec.get("name", "python3"))
    ran_with = [f"Prefect {metadata.version('prefect')}"]
    if "prefect1" in kernels:
        ran_with.append(f"Prefect {legacy_prefect_version()} (legacy kernel)")
    note = nodes.paragraph(
        "", f"Executed with {' and '.join(ran_with)} on {date.today():%Y-%m-%d}.",
        classes=["pbe-executed"],
    )  # fmt: skip
    title = next(doctree.findall(nodes.title), None)
    if title is not None:
        title.parent.insert(title.parent.index(title) + 1, note)
