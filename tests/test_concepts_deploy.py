"""The Storage and Registration pages teach what they claim: read back from the executed pages."""

from __future__ import annotations

import html
import re

import pytest

PAGES = ["docs/storage", "docs/registration"]

# command lines of what the pages start in the background
BACKGROUND = ("prefect worker", "moto_server", "weather_flow.py", "deploy_weather.py")


# --------------------------------------------------------------------- both pages


@pytest.mark.parametrize("docname", PAGES)
def test_page_output_is_stable_and_names_no_temporary_things(site, docname):
    text = site.joined(docname)
    assert text.strip(), f"{docname} shows no executed output"
    assert "/tmp/" not in text and "ipykernel_" not in text
    assert "Traceback (most recent call last)" not in text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", text), "a UUID"
    assert not re.search(r"[0-9a-f]{32}", text), "a hex key or hash"
    assert not re.search(r"127\.0\.0\.1:\d+", text), "a port"
    assert not re.search(r"\d{4}-\d\d-\d\d[tT ]\d\d", text), "a timestamp"
    # a run Prefect named itself, e.g. 'add-475' or 'crimson-otter'
    assert not re.search(r"(Task|Flow) run '[a-z_]+-[0-9a-f]{3}'", text)


def test_no_background_process_of_the_build_is_left_running(site):
    psutil = pytest.importorskip("psutil")
    marker = str(site.home)  # the build ran with HOME there; its children inherit it
    left = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        command = " ".join(proc.info["cmdline"] or [])
        environ = proc.info["environ"] or {}
        if environ.get("HOME") == marker and any(part in command for part in BACKGROUND):
            left.append(command)
    assert not left, f"still running after the build: {left}"


# --------------------------------------------------------------------- storage


def test_prefect3_loads_and_runs_flows_from_a_folder_and_a_git_repository(site):
    text = site.joined("docs/storage")
    assert "code from weather-project/weather_flow.py" in text
    assert "code from a clone: weather-repo-main/weather_flow.py" in text
    for city in ("Lisbon", "Nairobi"):
        assert f"Flow run 'weather-{city}' - Finished in state Completed()" in text


def test_prefect1_local_storage_writes_a_pickle_file_in_the_prefect_home(site):
    out = site.output_with("docs/storage", "wrote flows/hello-flow/<timestamp>")
    assert "the file holds: ['flow', 'versions']" in out
    assert "'prefect': '1.4.1'" in out


def test_prefect1_s3_storage_uploads_loads_back_and_runs(site):
    outputs = [text.strip() for text in site.outputs("docs/storage")]
    # the old guide's snippet alone uploads nothing ...
    assert "[]" in outputs
    # ... adding the flow first, as registration does, uploads it under the flow's slug
    assert "uploaded: s3-flow/<slugified timestamp>" in "\n".join(outputs)
    run = site.output_with(
        "docs/storage", "Downloading flow from s3://my-bucket/", "Hello from a stored flow!"
    )
    assert "Beginning Flow run for 's3-flow'" in run
    assert "Flow run SUCCESS: all reference tasks succeeded" in run


def test_the_server_keeps_where_the_code_is_not_the_code(site):
    p3 = site.output_with("docs/storage", "weather/from-folder", "weather/from-git")
    assert p3.count("entrypoint: weather_flow.py:weather") == 2
    assert 'pull step: set_working_directory {"directory": "$PWD/weather-project"}' in p3
    assert "pull step: git_clone" in p3 and "file://$PWD/weather-repo" in p3
    assert "def weather" not in p3

    p1 = site.output_with("docs/storage", "storage of hello-flow", "storage of s3-flow")
    assert "$PREFECT__HOME_DIR/flows/hello-flow/<timestamp>" in p1
    assert '"bucket": "my-bucket"' in p1 and '"s3-flow": "s3-flow/<timestamp>"' in p1
    assert "tasks: [('say_hello', 'prefect.tasks.core.function.FunctionTask')]" in p1
    assert "logger" not in p1 and "Hello, Cloud!" not in p1


def test_prefect3_code_from_s3_runs_on_a_worker(site):
    out = site.output_with("docs/storage", "> Running push_to_s3 step...")
    assert "Deployment 'weather/from-s3' successfully created" in out
    assert (
        "in the bucket: ['weather-project/prefect.yaml', 'weather-project/weather_flow.py']" in out
    )
    text = site.joined("docs/storage")
    assert (
        "pull step: prefect_aws.deployments.steps.pull_from_s3 "
        "{'bucket': 'weather-code', 'folder': 'weather-project'}" in text
    )
    run = site.output_with("docs/storage", "flow run 'weather-Lisbon': Completed")
    assert "log: Executing deployment step: pull_from_s3" in run
    assert "log: Deployment step 'pull_from_s3' completed successfully" in run


def test_a_result_that_was_not_persisted_is_missing_on_the_server(site):
    text = site.joined("docs/storage")
    assert "not persisted, read from the server: MissingResult: State data is missing." in text
    assert "persisted, read from the server: 3.8" in text


def test_result_files_are_written(site):
    text = site.joined("docs/storage")
    # prefect 3: a readable JSON record in the saved LocalFileSystem block's folder
    assert "results/: ['<key>', '<key>', 'mean-Oslo.json']" in text
    assert "mean-Oslo.json holds 3.8 written by json" in text
    assert "without result_storage, results go to $PREFECT_HOME/storage" in text
    # prefect 1: S3 storage brings an S3Result for the same bucket
    assert "S3    -> S3Result in my-bucket" in text
    assert "<year>/<month>/<day>/<uuid>.prefect_result" in text
    assert "the result holds: 3.8" in text


# --------------------------------------------------------------------- registration


def test_the_register_snippet_is_shown_but_not_executed(site):
    soup = site.article("docs/registration")
    snippets = [
        block
        for block in soup.select("div.literal-block-wrapper")
        if 'flow.register(project_name="tutorial")' in block.get_text()
    ]
    assert len(snippets) == 1
    assert "not executed" in snippets[0].get_text()
    assert snippets[0].find_parent("div", class_="jupyter_container") is None


def test_prefect1_registration_metadata_and_build_run_offline(site):
    text = site.joined("docs/registration")
    assert "labels: this machine's hostname" in text
    assert "metadata: ['__version__', 'edges', 'name'" in text
    assert "tasks: ['say_hello']" in text
    assert "1 built" in text
    assert "stored as a script: True" in text and "the script: hello_flow_legacy.py" in text
    run = site.output_with("docs/registration", "INFO - prefect.say_hello | Hello, Cloud!")
    assert "Flow run SUCCESS: all reference tasks succeeded" in run


def test_the_first_deploy_asks_for_an_image_or_a_storage_location(site):
    out = " ".join(site.output_with("docs/registration", "deploy(no image):").split())
    assert (
        "deploy(no image): Either an image or remote storage location must be provided when "
        "deploying a deployment." in out
    )
    assert "deploy(image): Work pool 'first-try' does not support custom Docker images." in out
    assert "consider using `flow.serve` instead" in out and "`.from_source`" in out


def test_a_served_deployment_runs_to_completion(site):
    text = site.joined("docs/registration")
    assert "registered 'served', work pool: None" in text
    assert "flow run 'weather-Lisbon': Completed" in text
    # the log lines the serving process sent to the server
    assert "Lisbon: mean of 4 readings is 18.0 °C" in text


def test_a_worker_runs_a_deployment_from_git_to_completion(site):
    text = site.joined("docs/registration")
    assert re.search(r"weather/on-a-worker\s*│\s*applied", text)
    assert "flow run 'weather-Nairobi': Completed" in text
    # the run's graph, read back from the server: two tasks, the data edge between them
    images = site.images("docs/registration")
    svgs = [html.unescape(p.read_text()) for p in images if p.suffix == ".svg"]
    graphs = [svg for svg in svgs if "read-Nairobi" in svg and "mean-Nairobi" in svg]
    assert len(graphs) == 1
    assert "Completed" in graphs[0] and "temperatures" in graphs[0]
    assert len(re.findall(r'class="node"', graphs[0])) == 2
    assert len(re.findall(r'class="edge"', graphs[0])) == 1
