"""What each executed page ran with, when its cells last ran, how long they took, what failed.

Every page that runs code gets a record in its metadata (``pbe_execution``): the kernels, the
time its cells last ran (for cells served from the execution cache: when they ran then, not
when this build read the page), their run time, and the cells that failed. The line under
the page's title is written from it, and so is the execution report (`pbe_execution_report`,
a JSON file beside the HTML) that the canary reads.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

from .runtime import legacy_prefect_version

RECORD = "pbe_execution"


def utc_timestamp(when: datetime) -> float:
    """Seconds since the epoch of a datetime that is UTC when it names no zone."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def note_read_started(app: Sphinx, docname: str, source: list[str]) -> None:
    """When this build began to read the page (source-read): cells that ran before came
    from the cache."""
    app.env.temp_data["pbe_read_started"] = time.time()


def record(env, docname: str, kernels: list[str], runs: list[tuple], failures: list[dict]):
    """Keep what a page's execution was: `runs` holds (when, seconds, from cache) per session."""
    started = env.temp_data.get("pbe_read_started", time.time())
    when = max(run[0] for run in runs) if runs else time.time()
    seconds = [run[1] for run in runs if run[1] is not None]
    env.metadata[docname][RECORD] = {
        "kernels": kernels,
        "ran_at": datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds"),
        "seconds": round(max(seconds), 1) if seconds else None,
        "from_cache": all(run[2] or run[0] < started for run in runs) if runs else False,
        "failures": failures,
    }


def versions(kernels: list[str]) -> list[str]:
    """The Prefect releases the kernels ran."""
    ran_with = [f"Prefect {metadata.version('prefect')}"]
    if "prefect1" in kernels:
        ran_with.append(f"Prefect {legacy_prefect_version()} (legacy kernel)")
    return ran_with


def mark_executed_pages(app: Sphinx, doctree) -> None:
    """Say under the title of every page that ran code what it ran with, when and how long."""
    kept = app.env.metadata[app.env.docname].get(RECORD)
    if not kept:
        return
    ran_at = datetime.fromisoformat(kept["ran_at"])
    line = f"Executed with {' and '.join(versions(kept['kernels']))} on {ran_at:%Y-%m-%d}"
    if kept["seconds"] is not None:
        line += f", in {kept['seconds']:.1f} s"
    line += "." if not kept["failures"] else "; a cell failed."
    note = nodes.paragraph("", line, classes=["pbe-executed"])
    title = next(doctree.findall(nodes.title), None)
    if title is not None:
        title.parent.insert(title.parent.index(title) + 1, note)


def write_report(app: Sphinx, exception) -> None:
    """Every executed page's record as JSON, where `pbe_execution_report` says (build-finished)."""
    if not app.config.pbe_execution_report or app.env is None:
        return
    pages = {
        docname: dict(data[RECORD], versions=versions(data[RECORD]["kernels"]))
        for docname, data in sorted(app.env.metadata.items())
        if RECORD in data
    }
    path = Path(app.outdir, app.config.pbe_execution_report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"build_failed": exception is not None, "pages": pages}, indent=1))
