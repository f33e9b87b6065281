"""The page helpers work as the pages' hidden cells use them, in both kernels."""

from __future__ import annotations

import json
import os
import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient
from support.site import KERNELS

KERNEL_NAMES = ["python3", "prefect1"]


def run_in_kernel(kernel: str, cells: list[str], cwd, env: dict[str, str] | None = None):
    """Execute `cells` in a fresh `kernel` in folder `cwd`; the executed cells."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    saved = dict(os.environ)
    os.environ["JUPYTER_PATH"] = str(KERNELS)
    os.environ.pop("PBE_PAGE_DIR", None)  # outside a build, unless the test says otherwise
    os.environ.update(env or {})
    try:
        resources = {"metadata": {"path": str(cwd)}}
        NotebookClient(notebook, kernel_name=kernel, timeout=240, resources=resources).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook.cells


def text_of(cell) -> str:
    return "".join(
        output.get("text", "") or output.get("data", {}).get("text/plain", "")
        for output in cell.outputs
    )


@pytest.fixture
def page(tmp_path):
    """A page folder with an examples/ folder, and an empty folder for the kernel to work in."""
    page_dir = tmp_path / "docs"
    (page_dir / "examples").mkdir(parents=True)
    (page_dir / "examples" / "helper_module.py").write_text("ANSWER = 42\n")
    (page_dir / "examples" / "notes.txt").write_text("notes\n")
    work = tmp_path / "work"
    work.mkdir()
    return page_dir, work


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_workspace_copies_the_page_files_and_makes_them_importable(kernel, page):
    page_dir, work = page
    cells = run_in_kernel(
        kernel,
        [
            "from prefect_by_example.pages import workspace\nhere = workspace('examples')",
            "import helper_module, os, tempfile, json\n"
            "print(json.dumps([helper_module.ANSWER, sorted(os.listdir(here)),"
            " tempfile.gettempdir() == str(here / 'tmp'), os.environ['GIT_AUTHOR_NAME']]))",
        ],
        work,
        {"PBE_PAGE_DIR": str(page_dir)},
    )
    answer, files, tmp_here, author = json.loads(text_of(cells[1]))
    assert answer == 42 and author == "Ada" and tmp_here
    assert files == [".pbe-files", "helper_module.py", "notes.txt", "tmp"]
    # the build learns which of the page's files the code read
    listed = (work / ".pbe-files").read_text().splitlines()
    assert listed == [
        str(page_dir / "examples" / name) for name in ("helper_module.py", "notes.txt")
    ]
    assert (page_dir / "examples" / "notes.txt").read_text() == "notes\n"  # sources untouched


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_workspace_outside_the_build_takes_the_files_from_the_current_folder(kernel, page):
    page_dir, work = page
    code = "from prefect_by_example.pages import workspace\ntry:\n    workspace('examples')\n"
    code += "except FileNotFoundError as error:\n    print(error)"
    cells = run_in_kernel(kernel, [code], work)
    assert f"examples is not in {work}: this page needs it there" in text_of(cells[0])
    # as a downloaded notebook's first cell leaves it: ./examples beside the notebook
    shutil.copytree(page_dir / "examples", work / "examples")
    cells = run_in_kernel(kernel, [code, "import helper_module\nprint(helper_module.ANSWER)"], work)
    assert text_of(cells[1]).strip() == "42"
    assert not (work / ".pbe-files").exists()  # only the build keeps that list


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_quiet_tracebacks_logs_an_exception_as_one_line_once(kernel, page):
    _, work = page
    cells = run_in_kernel(
        kernel,
        [
            "import logging, sys\n"
            "from prefect_by_example.pages import quiet_tracebacks\n"
            "quiet_tracebacks()\n"
            "log = logging.getLogger('page')\n"
            "log.addHandler(logging.StreamHandler(sys.stdout))\n"
            "for message in ('it broke', 'it broke: ZeroDivisionError'):\n"
            "    try:\n        1 / 0\n    except ZeroDivisionError:\n"
            "        log.exception(message)"
        ],
        work,
    )
    lines = text_of(cells[0]).splitlines()
    assert lines == [
        "it broke",
        "ZeroDivisionError: division by zero",
        "it broke: ZeroDivisionError",
    ]


@pytest.mark.parametrize("kernel", KERNEL_NAMES)
def test_mask_log_lines_replaces_what_changes(kernel, page):
    _, work = page
    cells = run_in_kernel(
        kernel,
        [
            "import logging, sys\n"
            "from prefect_by_example.pages import mask_log_lines\n"
            "log = logging.getLogger('page')\n"
            "log.addHandler(logging.StreamHandler(sys.stdout))\n"
            "mask_log_lines({r'\\d{4}-\\d\\d-\\d\\d': '<date>', r'ETag: \\w+': 'ETag'}, 'page')\n"
            "log.warning('uploaded on %s. ETag: %s', '2026-12-02', 'abc123')"
        ],
        work,
    )
    assert text_of(cells[0]) == "uploaded on <date>. ETag\n"


def test_prefect1_graphs_show_task_names_where_prefect_puts_ids(page):
    _, work = page
    cells = run_in_kernel(
        "prefect1",
        [
            "from prefect import Flow, task\n"
            "from prefect_by_example.pages import stable_prefect1_graphs\n"
            "stable_prefect1_graphs()\n"
            "@task\ndef first():\n    return 1\n"
            "@task\ndef second(x):\n    return x\n"
            "with Flow('two') as flow:\n    second(first())",
            "flow.visualize()",
        ],
        work,
    )
    svg = cells[1].outputs[0]["data"]["image/svg+xml"]
    assert "<title>first</title>" in svg and "<title>first&#45;&gt;second</title>" in svg
    assert not re.search(r"<title>\d{6,}", svg)  # no memory addresses


def test_prefect1_order_is_the_same_on_every_run(page):
    _, work = page
    flow = (
        "from prefect import Flow, Parameter, task\n"
        "@task\ndef join(words):\n    return ' '.join(words)\n"
        "with Flow('words') as flow:\n"
        "    words = [Parameter(w, default=w) for w in ('delta', 'alpha', 'charlie', 'bravo')]\n"
        "    joined = join(words)\n"
    )
    order = "print([t.name for t in flow.sorted_tasks()])"
    cells = run_in_kernel(
        "prefect1",
        [
            flow + order,
            "from prefect_by_example.pages import stable_prefect1_order\nstable_prefect1_order()\n"
            + order,
            "state = flow.run()\nassert state.is_successful(), state",
        ],
        work,
    )
    # by slug ("List-1" sorts first), each after the tasks it needs
    assert text_of(cells[1]) == "['alpha', 'bravo', 'charlie', 'delta', 'List', 'join']\n"
    # the run follows that order: each parameter's log lines come in the order of their slugs
    started = re.findall(r"Task '(\w+)': Starting", text_of(cells[2]))
    assert started == ["alpha", "bravo", "charlie", "delta", "List", "join"]
    assert sorted(eval(text_of(cells[0]))) == sorted(eval(text_of(cells[1])))


@pytest.mark.usefixtures("prefect_server")
def test_shared_server_is_the_configured_one_when_there_is_one(page):
    _, work = page
    cells = run_in_kernel(
        "python3",
        [
            "from prefect_by_example.pages import shared_prefect_server\nprint(shared_prefect_server())"
        ],
        work,
    )
    assert text_of(cells[0]).strip() == os.environ["PREFECT_API_URL"]


def test_shared_server_is_started_for_the_kernel_when_none_is_configured(page):
    _, work = page
    env = {"PREFECT_API_URL": ""}
    cells = run_in_kernel(
        "python3",
        [
            "import os\nos.environ.pop('PREFECT_API_URL', None)\n"
            "from prefect_by_example.pages import shared_prefect_server\nurl = shared_prefect_server()",
            "import urllib.request\n"
            "print(url == os.environ['PREFECT_API_URL'], urllib.request.urlopen(url + '/health').read())",
        ],
        work,
        env,
    )
    assert text_of(cells[1]).strip() == "True b'true'"
