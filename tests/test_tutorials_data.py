"""Tutorials 1-4 teach what their executed outputs show: flows, cached files, pandas results, memory."""

from __future__ import annotations

import re

import pytest

SCRIPT_TO_FLOW = "tutorials/01-turn-a-script-into-a-flow"
CACHE_TO_FILES = "tutorials/02-cache-task-outputs-to-files"
DATAFRAMES = "tutorials/03-store-dataframes-as-results"
BIG_RESULTS = "tutorials/04-keep-big-results-out-of-memory"
PAGES = [SCRIPT_TO_FLOW, CACHE_TO_FILES, DATAFRAMES, BIG_RESULTS]

# every run these pages make, by the name the page gives it
RUN_NAMES = {
    SCRIPT_TO_FLOW: {
        "export-3-days", "daily-report", "weather-note", "warmest-reading",
        *(f"{kind}-day-{day}" for kind in ("read", "export") for day in (1, 2, 3)),
    },
    CACHE_TO_FILES: {
        "weather-north", "download-north", "daily-north", "weather-north-async",
        "square-twice", "square-3", "count-twice", "count-call",
    },
    DATAFRAMES: {
        "station-report", "combine", "daily-range",
        *(f"measure-{station}" for station in ("north", "south", "east", "west")),
    },
    BIG_RESULTS: {
        "warm-up", "defaults", "no-memory-cache", "persisted", "persisted-no-memory-cache",
        "persisted-no-cache", "file-paths", "load", "double", "add_one", "square", "total",
        "prefect-defaults", "cache_result_in_memory", "persisted-small", "no-cache-small",
        "load_small",
    },
}  # fmt: skip

RUN_LINE = re.compile(r"(?:Flow|Task) run '([^']+)' - (.*)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def run_lines(site, docname: str) -> list[tuple[str, str]]:
    """(run name, message) of every Prefect log line the page printed, in order."""
    return RUN_LINE.findall(site.joined(docname))


@pytest.mark.parametrize("docname", PAGES)
def test_page_builds_clean_with_stable_output(site, docname):
    page = docname.split("/")[-1]
    warnings = [line for line in site.console.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not [line for line in warnings if page in line]
    text = site.text(docname)
    # runs carry the names the page gives them: no made-up names, ids or temporary paths
    assert {name for name, _ in run_lines(site, docname)} == RUN_NAMES[docname]
    assert not UUID.search(text)
    assert "/tmp/" not in text and "/home/" not in text
    assert "Traceback" not in text


def test_script_becomes_a_flow_with_readable_logs(site):
    out = site.joined(SCRIPT_TO_FLOW)
    # the plain script and the flow write the same files; prints become task run log lines
    for day, warmest in [(1, "24.5"), (2, "24.2"), (3, "24.2")]:
        line = f"wrote exports/day-{day}.csv: 24 readings, warmest {warmest} °C"
        assert f"\n{line}" in out
        assert f"Task run 'export-day-{day}' - {line}" in out
    # the file read back with pandas: day 2, hours 0-2
    assert re.search(
        r"day\s+hour\s+temperature.*?2\s+0\s+13\.9", site.text(SCRIPT_TO_FLOW), re.DOTALL
    )


def test_names_logs_and_the_start_up_limit_are_read_from_prefect(site):
    out = site.joined(SCRIPT_TO_FLOW)
    assert "start-up limit: 20 s; the message is in Prefect's code: True" in out
    # print lines reach the server as the task run's log lines
    assert "on the server: 'wrote exports/day-2.csv: 24 readings, warmest 24.2 °C'" in out
    assert "from task run 'export-day-2' of flow run 'export-3-days'" in out
    # without the name options, Prefect makes up names
    assert "flow run named <adjective>-<animal>: True" in out
    assert "task run named read_day-<3 hex digits>: True" in out


def test_subflows_run_as_runs_of_their_own(site):
    lines = run_lines(site, SCRIPT_TO_FLOW)
    report = [i for i, (name, _) in enumerate(lines) if name == "daily-report"]
    inside = lines[report[0] : report[-1] + 1]
    began = [message for name, message in inside if message.startswith("Beginning subflow run")]
    assert began == [
        "Beginning subflow run 'export-3-days' for flow 'export-days'",
        "Beginning subflow run 'weather-note' for flow 'weather-note'",
    ]
    assert ("warmest-reading", "warmest: 24.5 °C, day 1 at 15:00") in inside
    assert inside[-1] == ("daily-report", "Finished in state Completed()")
    # the run graph draws each subflow run as a completed cluster around its task runs
    run_graph = next(
        t for t in site.svg_texts(SCRIPT_TO_FLOW) if "daily-report" in t and "Completed" in t
    )
    assert "export-days · Completed" in run_graph
    assert "weather-note · Completed" in run_graph
    assert "read-day-3" in run_graph and "warmest-reading" in run_graph


def test_cached_run_loads_named_files(site):
    out = site.joined(CACHE_TO_FILES)
    assert "first run took more than 5 s: True" in out
    for name in ("readings_north.csv", "daily_north.parquet"):
        assert f"'results/{name}'" in out and f"'results/.records/{name}'" in out
    # the result files are plain files: CSV text, and a record naming the serializer
    assert "day,hour,temperature\n1,0,15.1\n1,1,14.2\n1,2,12.9" in out
    assert "{'type': 'pandas', 'format': 'parquet'" in out
    # the second run skipped the 5 s download, and loses its last second to the heartbeat
    assert "second run took less than 5 s (download skipped): True" in out
    assert "second run took less than 1 s: False" in out
    assert "at least 1 s with heartbeats on: True" in out
    assert "without heartbeats, a cached run took under 1 s: True" in out


def test_out_of_the_box_caching_and_inputs_that_cannot_be_hashed(site):
    out = site.joined(CACHE_TO_FILES)
    # the default policy: reused within a flow run, not by the next one
    assert "two flow runs: [['Completed', 'Cached'], ['Completed', 'Cached']]" in out
    assert "2 files, named like <32 hex digits>" in out
    assert "each holds ['metadata', 'result'] written by pickle" in out
    # a lock cannot be hashed: an error is logged, the task runs, nothing is stored
    assert "Error encountered when computing cache key - result will not be persisted." in out
    assert "Pickle error: cannot pickle '_thread.lock' object" in out
    assert "states: ['Completed', 'Completed'] | files written: 0" in out


def test_heartbeat_settings_and_an_async_flow(site):
    out = site.joined(CACHE_TO_FILES)
    assert "heartbeat every 180 seconds" in out
    assert (
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY=10: Input should be greater than or equal to 30" in out
    )
    assert "PREFECT_FLOWS_HEARTBEAT_FREQUENCY=none: Input should be a valid integer" in out
    assert "an async flow, heartbeat on, cached run under 1 s: True" in out


def test_forget_reruns_one_task_and_refresh_reruns_all(site):
    lines = run_lines(site, CACHE_TO_FILES)
    finished = [(name, msg) for name, msg in lines if name in ("download-north", "daily-north")]
    cached = "Finished in state Cached(type=COMPLETED)"
    completed = "Finished in state Completed()"
    assert finished == [
        ("download-north", completed), ("daily-north", completed),  # first run
        *[("download-north", cached), ("daily-north", cached)] * 3,  # second run, three times
        *[("download-north", cached), ("daily-north", cached)] * 3,  # without heartbeats
        *[("download-north", cached), ("daily-north", cached)] * 3,  # an async flow
        ("download-north", cached), ("daily-north", completed),  # after forget()
        # the run after deleting only the file prints nothing: its log is switched off
        ("download-north", completed), ("daily-north", completed),  # refresh_cache
    ]  # fmt: skip
    out = site.joined(CACHE_TO_FILES)
    assert "daily_north.parquet is back: True" in out
    assert (
        "Failed - Flow run encountered an exception: ValueError: Path "
        "$PWD/results/daily_north.parquet does not exist." in out
    )
    # the code the page relies on, shown in full
    assert "class PandasSerializer(Serializer):" in site.text(CACHE_TO_FILES)
    graphs = [t for t in site.svg_texts(CACHE_TO_FILES) if "download-north" in t]
    # the states in each graph's legend; the flow run itself is Completed in all three
    legends = [set(text.split(" | ")) & {"Cached", "Completed"} for text in graphs]
    # second run: all cached; after forget(): download cached, summary ran; refresh: none cached
    assert legends == [{"Cached"}, {"Cached", "Completed"}, {"Completed"}]


def test_dataframes_stored_one_file_per_mapped_item(site):
    out = site.joined(DATAFRAMES)
    for name in [
        "all_readings.csv", "daily_range.json",
        "readings/east.parquet", "readings/north.parquet", "readings/south.parquet",
    ]:  # fmt: skip
        assert f"'results/{name}'" in out
    assert "serializer: PandasSerializer(type='pandas', format='parquet'" in out
    assert '[{"station":"east","day":"2024-07-01","min":' in out
    assert re.search(r"csv:\s+str\n", out)
    assert re.search(r"csv, parse_dates: datetime64", out)
    # first run: every task completes, the map in order; second run: everything from files;
    # a new station: only its measure runs, and the summary is the old one
    lines = [(name, msg.split("(")[0]) for name, msg in run_lines(site, DATAFRAMES)]
    tasks = ["measure-north", "measure-south", "measure-east", "combine", "daily-range"]
    finished = [(name, msg) for name, msg in lines if name in {*tasks, "measure-west"}]
    done, cached = "Finished in state Completed", "Finished in state Cached"
    assert finished == [
        *[(name, done) for name in tasks],
        *[(name, cached) for name in tasks],
        *[(name, cached) for name in tasks[:3]],
        ("measure-west", done),
        ("combine", cached),
        ("daily-range", cached),
    ]
    assert "stations in the summary: ['east', 'north', 'south']" in out
    assert "'west.parquet'" in out
    assert "no pandas file format 'docx': use one of csv, excel, feather, json" in out
    assert "def pandas_result(" in site.text(DATAFRAMES)
    assert any("measure ×3" in t and "Completed" in t for t in site.svg_texts(DATAFRAMES))


def test_file_paths_keep_memory_flat(site):
    out = site.joined(BIG_RESULTS)
    assert "plain Python holds one array at a time: True" in out
    assert "persisted and cached in memory: grows by an array per step: True" in out
    assert "persisted, not cached in memory: stays under 3 arrays: True" in out
    assert "with file paths, RSS grows under 10 MB at every step: True" in out
    # which results outlive a run, counted through weak references
    assert "Prefect defaults: at most one of three results left at the end: True" in out
    assert "cache_result_in_memory=False: at most one of three results left at the end: True" in out
    assert "persisted: all three results alive at the end: True" in out
    # NO_CACHE switches persistence off
    assert "persist_result=True, cache_policy=NO_CACHE: files written: 0" in out
    assert "  at most one of three results left at the end: True" in out
    # the chart: a PNG drawn at build time on a white background (readable in dark mode)
    from PIL import Image

    charts = [path for path in site.images(BIG_RESULTS) if path.suffix == ".png"]
    assert len(charts) == 1
    with Image.open(charts[0]) as chart:
        assert chart.width > 600
        assert chart.convert("RGB").getpixel((2, 2)) == (255, 255, 255)
    # the file-path chain ran as drawn: five completed task runs
    run_graph = next(t for t in site.svg_texts(BIG_RESULTS) if "Completed" in t)
    for step in ("load", "double", "add_one", "square", "total"):
        assert step in run_graph
