"""The canary: the whole site built against the newest Prefect 3 release, everything else pinned.

It never changes the pins. `nox -s canary` makes its environment (`pins` below), builds the
site there and prints, per page, passed or the failing cell with its error, then a summary
line; `nox -s canary -- --diff` prints the diff of `requirements/*.txt` that an upgrade of
every pin would make.

    python -m devtools.canary pins UV OUT     write the canary's pins (newest Prefect 3) to OUT
    python -m devtools.canary report SRC OUT [RESULT]
                                              build SRC into OUT, print the report (and keep
                                              its summary in RESULT, e.g. requirements/canary.md)
    python -m devtools.canary diff UV         print what upgrading requirements/*.txt would change
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from devtools.build import BUILD_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
# the Prefect releases the canary may take: the newest of the major version the site teaches
PREFECT_RANGE = "prefect>=3,<4"


def compile_pins(uv: str, source: Path, output: Path, *options: str) -> None:
    """`uv pip compile` of `source` into `output`, preferring the pins `output` already has."""
    subprocess.run(
        [uv, "pip", "compile", str(source), "--python-version", "3.11", "--quiet",
         "--no-header", "-o", str(output), *options],
        check=True, cwd=ROOT,
    )  # fmt: skip


def pins(uv: str, out: str) -> None:
    """The docs pins with Prefect lifted to the newest 3.x release, other pins kept if they can."""
    output = Path(out)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REQUIREMENTS / "docs.txt", output)  # preferences: the current pins
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as override:
        override.write(PREFECT_RANGE + "\n")
    try:
        compile_pins(uv, REQUIREMENTS / "docs.in", output, "--override", override.name,
                     "--upgrade-package", "prefect")  # fmt: skip
    finally:
        os.unlink(override.name)
    print(
        f"canary pins: {pinned(output, 'prefect')} (pinned: {pinned(REQUIREMENTS / 'docs.txt', 'prefect')})"
    )


def pinned(lock: Path, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)", lock.read_text(), re.M)
    return f"{name} {match[1]}" if match else f"{name} (not pinned)"


def diff(uv: str) -> int:
    """Print the diff an upgrade of every pin would make; the files themselves stay."""
    changed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted(REQUIREMENTS.glob("*.in")):
            lock = source.with_suffix(".txt")
            upgraded = Path(tmp, lock.name)
            shutil.copy(lock, upgraded)
            # tests.in constrains itself by docs.txt: let it see the upgraded one
            text = source.read_text().replace("-c docs.txt", f"-c {Path(tmp, 'docs.txt')}")
            Path(tmp, source.name).write_text(text)
            compile_pins(uv, Path(tmp, source.name), upgraded, "--upgrade")
            old = [line for line in lock.read_text().splitlines(True) if not line.startswith("#")]
            new = [
                line for line in upgraded.read_text().splitlines(True) if not line.startswith("#")
            ]
            lines = list(difflib.unified_diff(old, new, f"a/{lock.relative_to(ROOT)}",
                                              f"b/{lock.relative_to(ROOT)}", n=0))  # fmt: skip
            changed += sum(1 for line in lines if line.startswith("+") and "==" in line)
            sys.stdout.writelines(lines)
    print(
        f"{changed} pins would change; requirements/ is unchanged (run `uv pip compile "
        "--upgrade` yourself to take them)"
    )
    return 0


def report(src: str, out: str, result: str = "") -> int:
    """Build the site, print each page's outcome and a summary; 1 if a page failed."""
    src_dir, out_dir = Path(src).resolve(), Path(out).resolve()
    shutil.rmtree(out_dir, ignore_errors=True)  # the canary's own folder, made again
    kernels = ["-D", f"pbe_kernels_path={ROOT / '.nox' / 'kernels' / 'share' / 'jupyter'}"]
    command = [
        sys.executable, "-m", "sphinx", "-b", "html", *BUILD_OPTIONS, *kernels,
        "-D", "pbe_execution_report=../execution.json",
        "-d", str(out_dir / "doctrees"), str(src_dir), str(out_dir / "html"),
    ]  # fmt: skip
    build = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    (out_dir / "build.log").write_text(build.stdout + build.stderr)
    records = json.loads((out_dir / "execution.json").read_text())["pages"]
    prefect = f"Prefect {metadata.version('prefect')}"
    lines, failed = [], 0
    for page, record in records.items():
        if not record["failures"]:
            lines.append(f"{page}: passed")
            continue
        failed += 1
        for failure in record["failures"]:
            cell = failure["cell"].strip().splitlines()
            first = next((line for line in cell if line and not line.startswith("#")), "")
            lines.append(f"{page}: FAILED in the cell starting `{first}`: {failure['error']}")
    problems = re.findall(r"^.*\b(?:WARNING|ERROR|CRITICAL): .*$", build.stderr, re.M)
    # what the execution records do not say: a page that failed to build for another reason
    other = [line for line in problems if not re.search(r"cell|[Nn]otebook", line)]
    lines += [f"build: {line}" for line in other[:5]]
    summary = f"{len(records) - failed} of {len(records)} executed pages passed with {prefect}"
    if other:
        summary += f"; {len(other)} other build problems (see build.log)"
    lines.append(summary)
    print("\n".join(lines))
    (out_dir / "report.txt").write_text("\n".join(lines) + "\n")
    passed = failed == 0 and build.returncode == 0
    if result:
        write_result(Path(result), prefect, passed, lines)
    return 0 if passed else 1


def write_result(path: Path, prefect: str, passed: bool, lines: list[str]) -> None:
    """The last result, kept in the repository for the About page."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    verdict = "every executed page passed" if passed else "some pages failed"
    path.write_text(
        f"The last canary ran on {today} with {prefect}: {verdict}.\n\n"
        + "".join(f"- {line}\n" for line in lines[:-1])
    )


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    sys.exit({"pins": pins, "report": report, "diff": diff}[command](*arguments) or 0)
