"""The canary's report: each page passed or its failing cell, a summary line, an exit code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata

import pytest
import yaml
from support.site import ROOT

pytestmark = pytest.mark.build


def test_the_report_names_each_page_and_the_failing_cell(tmp_path, rootdir):
    src = tmp_path / "site"
    shutil.copytree(rootdir / "test-canary", src)
    result = tmp_path / "canary.md"
    run = subprocess.run(
        [sys.executable, "-m", "devtools.canary", "report", str(src), str(tmp_path / "out"), str(result)],
        capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr  # a page failed
    lines = run.stdout.splitlines()
    prefect = metadata.version("prefect")
    assert lines == [
        "any-release: passed",
        "older-release: FAILED in the cell starting `from types import SimpleNamespace`:"
        " AssertionError: reordered columns, another cache key",
        f"1 of 2 executed pages passed with Prefect {prefect}",
    ]
    assert (tmp_path / "out" / "report.txt").read_text().splitlines() == lines
    kept = result.read_text()
    assert (
        f"with Prefect {prefect}: some pages failed." in kept and "- older-release: FAILED" in kept
    )


def test_a_passing_site_exits_zero(tmp_path, rootdir):
    src = tmp_path / "site"
    shutil.copytree(rootdir / "test-canary", src)
    (src / "older-release.rst").unlink()
    (src / "index.rst").write_text(
        (src / "index.rst").read_text().replace("   older-release\n", "")
    )
    run = subprocess.run(
        [sys.executable, "-m", "devtools.canary", "report", str(src), str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].startswith("1 of 1 executed pages passed with Prefect 3.")


def test_the_workflow_runs_the_tests_on_every_change_and_the_canary_weekly():
    workflow = yaml.safe_load((ROOT / ".github/workflows/tests.yml").read_text())
    triggers = workflow[True]  # YAML reads the key `on` as True
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    assert triggers["schedule"][0]["cron"].split()[4] != "*"  # a day of the week: weekly
    tests, canary = workflow["jobs"]["tests"], workflow["jobs"]["canary"]
    assert "schedule" in tests["if"] and "schedule" in canary["if"]
    assert any(step.get("run") == "bash .ci/run" for step in tests["steps"])
    assert any("nox -s canary" in step.get("run", "") for step in canary["steps"])
    uploads = [s["with"]["path"] for s in canary["steps"] if "upload-artifact" in s.get("uses", "")]
    assert any("html" in path for path in uploads) and any("report" in path for path in uploads)
