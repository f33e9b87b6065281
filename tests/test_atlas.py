"""The Prefect 1 -> 3 atlas: every section ran both versions, and both gave the answer its prose
states; the migration table links every section; the traps behave as the pages say."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from support.atlas import P1, P3, names, section, table_rows
from support.browser import CHROMIUM, CHROMIUM_ARGS, serve
from support.reading import count_nodes
from support.site import ROOT

ATLAS = sorted(
    str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "docs/atlas").glob("*.rst")
)
# page -> the labels of its sections, each with a Prefect 1 tab and a Prefect 3 tab
SECTIONS = {
    "docs/atlas/parameters": ["atlas-parameters", "atlas-context", "atlas-logging"],
    "docs/atlas/mapping": ["atlas-map", "atlas-flatten", "atlas-apply-map"],
    "docs/atlas/control-flow": ["atlas-case", "atlas-signals", "atlas-triggers"],
    "docs/atlas/retries": ["atlas-hooks", "atlas-retries", "atlas-timeouts"],
    "docs/atlas/results": ["atlas-caching", "atlas-results", "atlas-nout"],
    "docs/atlas/schedules": ["atlas-schedules", "atlas-executors"],
    "docs/atlas/resources": [
        "atlas-secrets",
        "atlas-resources",
        "atlas-flow-of-flows",
        "atlas-shell",
    ],
}
LABELS = [(page, label) for page, labels in SECTIONS.items() for label in labels]


def ids(item) -> str:
    return item[1] if isinstance(item, tuple) else item


# --------------------------------------------------------------------- every page


def test_every_atlas_page_is_listed_here():
    assert sorted(SECTIONS) == [page for page in ATLAS if page != "docs/atlas/index"]


@pytest.mark.parametrize("docname", sorted(SECTIONS))
def test_page_output_is_stable_and_names_no_temporary_things(site, docname):
    text = site.joined(docname)
    assert text.strip(), f"{docname} shows no executed output"
    assert "/tmp/" not in text and "ipykernel_" not in text
    assert "Traceback (most recent call last):\n  File" not in text  # logged tracebacks
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text), "a UUID"
    assert not re.search(r"0x[0-9a-f]{8,}", text), "a memory address"
    assert not re.search(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", text), "an IP address"
    assert not re.search(r"PID \d", text), "a process id"
    # a run Prefect named itself, e.g. 'add-475' or 'crimson-otter'
    assert not re.search(r"(Task|Flow) run '[a-z_]+-[0-9a-f]{3}'", text)


@pytest.mark.parametrize("docname", sorted(SECTIONS))
def test_every_kernel_id_starts_with_the_page_name(docname):
    source = (ROOT / f"{docname}.rst").read_text()
    kernel_ids = re.findall(r"jupyter-kernel:: \S+\n\s+:id: (\S+)", source)
    assert kernel_ids and all(i.startswith(Path(docname).name + "-") for i in kernel_ids)
    assert len(kernel_ids) == len(set(kernel_ids)), "a kernel id used twice"


# --------------------------------------------------------------------- every section


@pytest.mark.parametrize("where", LABELS, ids=ids)
def test_both_versions_ran_in_synced_tabs(site, where):
    found = section(site, *where)
    assert found.sync_ids.count("p3") == found.sync_ids.count("p1") >= 1, found.sync_ids
    for tab in (P3, P1):
        assert found.code.get(tab) and found.outputs.get(tab), f"{found.title}: no {tab} run"


@pytest.mark.parametrize("where", LABELS, ids=ids)
def test_both_tabs_print_the_answer_the_prose_states(site, where):
    found = section(site, *where)
    p3, p1 = found.answers(P3), found.answers(P1)
    assert p3, f"{found.title}: the Prefect 3 tab printed no answer"
    assert p3 == p1, f"{found.title}: Prefect 3 answered {p3}, Prefect 1 {p1}"
    assert found.expected == p3, f"{found.title}: the prose says {found.expected}, the tabs {p3}"


# --------------------------------------------------------------------- the table


def test_the_table_lists_every_section_once(site):
    rows = table_rows(site)
    targets = [row.href for row in rows]
    expected = [f"{Path(page).name}.html#{label}" for page, label in LABELS]
    assert sorted(targets) == sorted(expected)
    assert len(set(targets)) == len(targets)


@pytest.mark.parametrize("row", range(21))
def test_each_table_row_names_what_its_section_ran(site, row):
    rows = table_rows(site)
    assert len(rows) == 21
    line = rows[row]
    page, _, label = line.href.partition("#")
    found = section(site, f"docs/atlas/{page.removesuffix('.html')}", label)
    for name in names(line.prefect3):
        assert name in found.code_outside(P1), f"{found.title}: no {name} in the Prefect 3 code"
    for name in names(line.prefect1):
        if line.needs_backend:
            assert name in found.prose, f"{found.title}: the prose does not name {name}"
        else:
            assert name in found.code_outside(P3), f"{found.title}: no {name} in Prefect 1 code"


def test_home_page_lists_the_atlas_in_its_toctree_and_learning_path(site):
    home = site.soup("index")
    captions = [c.get_text() for c in home.select(".caption-text")]
    assert "Prefect 1 → 3 atlas" in captions, captions
    links = {a["href"] for a in home.select(".bd-sidebar a")}
    assert {f"docs/atlas/{Path(page).name}.html" for page in ATLAS} <= links
    [diagram] = site.article("index").select("object.graphviz")
    path = (site.html / diagram["data"]).read_text()
    assert "Prefect 1 → 3 atlas" in html.unescape(path)
    assert all(f"docs/atlas/{Path(page).name}.html" in path for page in ATLAS)
    assert "atlas" in diagram["aria-label"]


# --------------------------------------------------------------------- pictures


def test_mapping_pictures_show_one_mapped_node_and_three_runs(site):
    legacy = site.picture("docs/atlas/mapping", "price <map>", "unit_prices")
    assert count_nodes(legacy) == 4  # quantities, unit_prices, price (mapped), total
    run = site.picture("docs/atlas/mapping", "invoice", "Completed")
    assert "price ×3" in html.unescape(run)


def test_condition_pictures_show_both_branches_and_the_one_taken(site):
    legacy = site.picture("docs/atlas/control-flow", "case(False)", "Merge")
    assert count_nodes(legacy) == 7  # n, is_even, two checks, say-even, say-odd, Merge
    assert "say-even" in html.unescape(legacy) and "say-odd" in html.unescape(legacy)
    taken = site.picture("docs/atlas/control-flow", "is-even-7")
    taken = html.unescape(taken)
    assert "say-odd" in taken and "say-even" not in taken and count_nodes(taken) == 2


def test_trigger_pictures_show_the_report_that_did_not_run(site):
    legacy = site.picture("docs/atlas/control-flow", "alert", "report", "rows")
    assert count_nodes(legacy) == 4
    run = site.picture("docs/atlas/control-flow", "nightly", "wait_for")
    assert "report" not in html.unescape(run) and count_nodes(run) == 3


# --------------------------------------------------------------------- the traps


def test_traps_show_what_a_straight_port_changes(site):
    text = {page: site.joined(page) for page in SECTIONS}
    assert "[[1, 2, 1, 2], [3, 3], [4, 5, 6, 4, 5, 6]]" in text["docs/atlas/mapping"]
    assert "case(rows, True) ran the block: False" in text["docs/atlas/control-flow"]
    assert "if rows: runs the block: True" in text["docs/atlas/control-flow"]
    assert (
        "the caller's list: [] - the returned one: ['the task ran']"
        in text["docs/atlas/parameters"]
    )
    assert "the caller's list: ['the task ran']" in text["docs/atlas/parameters"]
    assert "outside a run: None 0" in text["docs/atlas/parameters"]
    assert (
        "ParameterBindError: Error binding parameters for function 'greeting'"
        in text["docs/atlas/parameters"]
    )
    assert (
        "ValueError: Flow.run did not receive the following required parameters: name"
        in text["docs/atlas/parameters"]
    )
    assert "MissingContextError" in text["docs/atlas/parameters"]
    assert "hooks that ran: ['Crashed']" in text["docs/atlas/retries"]
    assert "after a hook that returned Completed(): Failed" in text["docs/atlas/retries"]
    assert (
        "ValueError: A datetime.timedelta `retry_delay` must be provided"
        in text["docs/atlas/retries"]
    )
    assert "Retry 1/2 will start immediately" in text["docs/atlas/retries"]
    assert (
        "TimedOut once the sleep had returned by itself; the last line ran: False"
        in text["docs/atlas/retries"]
    )
    results = text["docs/atlas/results"]
    assert results.count("hourly: [4, 4]") == 2  # duration_only, and its Prefect 3 port
    assert "computed again in the second flow run: [2, 2]" in results
    assert "computed: [5, 5] - sq-5.json written: False" in results
    assert "cannot unpack non-iterable PrefectConcurrentFuture" in results
    schedules = text["docs/atlas/schedules"]
    assert "'Sun 31 10:00 +0200', 'Sun 31 22:00 +0200'" in schedules
    assert "plain calls ran in: ['MainThread'] - a submitted one in MainThread: False" in schedules
    resources = text["docs/atlas/resources"]
    assert "Secret(value=Secret('**********'))" in resources
    assert "the server keeps: {'token': 's3cr3t'}" in resources
    assert "the query found the connection closed - events: ['setup', 'cleanup']" in resources
    assert "['rolled back: report.csv removed']" in resources
    assert "child-2 - from a deployment: False - inside a parent: True" in resources
    assert "child-3 - from a deployment: True - inside a parent: False" in resources
    assert "'world'" in resources


def test_schedules_come_from_the_server(site):
    found = section(site, "docs/atlas/schedules", "atlas-schedules")
    code = "\n".join(found.code[P3])
    assert "/deployments/{id}/schedule" in code and "read_flow_runs" in code
    assert "scheduler service" in found.prose
    assert "the scheduler service: every 60 s, 3 to 100 runs, 1:00:00 to 100 days" in "\n".join(
        found.outputs[P3]
    )


# --------------------------------------------------------------------- the table in a browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests drive Debian's Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_every_table_link_lands_on_its_section(site, browser):
    with serve(site.html) as url:
        page = browser.new_page()
        page.goto(f"{url}docs/atlas/index.html", wait_until="load")
        hrefs = page.eval_on_selector_all(
            "table#atlas-table tbody a", "links => links.map(a => a.href)"
        )
        assert len(hrefs) == 21
        for href in hrefs:
            page.goto(href, wait_until="load")
            anchor = href.rsplit("#", 1)[1]
            landed = page.evaluate(
                """id => {
                    const el = document.getElementById(id);
                    if (!el) return null;
                    const section = el.closest('section');
                    return {
                        heading: section.querySelector('h2').textContent,
                        tabs: section.querySelectorAll('label.sd-tab-label').length,
                        top: el.getBoundingClientRect().top,
                    };
                }""",
                anchor,
            )
            assert landed, f"{href}: no element with id {anchor}"
            assert landed["tabs"] >= 2, f"{href}: the section has no tabs"
            assert abs(landed["top"]) < 200, f"{href}: the page did not scroll to {anchor}"
        page.close()
