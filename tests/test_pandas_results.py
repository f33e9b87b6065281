"""pandas_results: DataFrames stored as plain files in any pandas format, named from task arguments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prefect import flow, task
from prefect.serializers import Serializer

from prefect_by_example.pandas_results import FileName, PandasSerializer, pandas_result

FRAME = pd.DataFrame(
    {
        "station": ["north", "south", "east"],
        "time": pd.date_range("2024-07-01", periods=3, freq="h"),
        "temperature": [21.5, 19.0, 17.25],
    }
)


@pytest.mark.parametrize("fmt", ["parquet", "feather", "pickle"])
def test_typed_formats_round_trip(fmt):
    serializer = PandasSerializer(format=fmt)
    pd.testing.assert_frame_equal(serializer.loads(serializer.dumps(FRAME)), FRAME)


def test_csv_is_plain_text_without_index_and_reads_back_with_options():
    serializer = PandasSerializer(format="csv", read_options={"parse_dates": ["time"]})
    blob = serializer.dumps(FRAME)
    assert blob.decode().splitlines()[0] == "station,time,temperature"
    pd.testing.assert_frame_equal(serializer.loads(blob), FRAME)


def test_json_is_records_with_iso_dates():
    serializer = PandasSerializer(format="json")
    blob = serializer.dumps(FRAME)
    assert blob.startswith(b'[{"station":"north","time":"2024-07-01T00:00:00')
    back = serializer.loads(blob)
    assert list(back.columns) == list(FRAME.columns)
    assert back["temperature"].tolist() == FRAME["temperature"].tolist()


def test_write_options_reach_the_writer():
    serializer = PandasSerializer(format="csv", write_options={"sep": ";"})
    assert serializer.dumps(FRAME).decode().startswith("station;time;temperature")


def test_suffix_aliases_and_unknown_formats():
    assert PandasSerializer(format="pkl").format == "pickle"
    assert PandasSerializer(format="PARQUET").format == "parquet"
    with pytest.raises(ValueError, match="no pandas file format 'sql'"):
        PandasSerializer(format="sql")


def test_only_dataframes_are_serialized():
    with pytest.raises(TypeError, match="stores DataFrames, got list"):
        PandasSerializer().dumps([1, 2, 3])


def test_serializer_is_found_by_its_type_as_prefect_stores_it():
    """Prefect writes the serializer into each result record and rebuilds it by `type`."""
    stored = PandasSerializer(format="parquet", read_options={"columns": ["station"]})
    rebuilt = Serializer(**stored.model_dump())
    assert isinstance(rebuilt, PandasSerializer)
    assert rebuilt == stored


def test_file_name_fills_the_template_from_task_arguments():
    policy = FileName(template="data_{station}_{day:02d}.csv")
    assert policy.compute_key(None, {"station": "north", "day": 3}, {}) == "data_north_03.csv"
    with pytest.raises(ValueError, match="names 'year', which is not an argument"):
        FileName(template="data_{year}.csv").compute_key(None, {"station": "north"}, {})


def test_pandas_result_options():
    options = pandas_result("daily/{station}.parquet", folder="out", records="out/.keys")
    assert options["cache_policy"] == FileName(
        template="daily/{station}.parquet", key_storage=Path("out/.keys")
    )
    assert options["result_storage"] == Path("out")
    assert options["result_serializer"].format == "parquet"
    assert options["persist_result"] is True
    assert pandas_result("x.data", format="json")["result_serializer"].format == "json"
    with pytest.raises(ValueError, match="give a format"):
        pandas_result("no_suffix")


calls: list[str] = []  # the stations `measure` really ran for


@task(**pandas_result("readings_{station}.csv"), task_run_name="measure-{station}")
def measure(station: str) -> pd.DataFrame:
    calls.append(station)
    return FRAME[FRAME["station"] == station].drop(columns="time").reset_index(drop=True)


@flow(flow_run_name="measure-stations")
def measure_stations(stations: list[str]) -> list[pd.DataFrame]:
    return measure.map(stations).result()


@pytest.mark.usefixtures("prefect_server")
def test_a_flow_writes_one_plain_file_per_mapped_item_and_reads_it_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls.clear()
    first = measure_stations(["north", "south"])
    assert sorted(calls) == ["north", "south"]
    assert sorted(p.name for p in Path("results").glob("*.csv")) == [
        "readings_north.csv",
        "readings_south.csv",
    ]
    # the data file is the CSV alone; Prefect's record sits in its own folder
    assert Path("results/readings_north.csv").read_text() == "station,temperature\nnorth,21.5\n"
    assert Path("results/.records/readings_north.csv").exists()

    # a second run, one station more: only the new one runs, the others load from their files
    second = measure_stations(["north", "south", "east"])
    assert sorted(calls) == ["east", "north", "south"]
    for before, after in zip(first, second[:2], strict=True):
        pd.testing.assert_frame_equal(before, after)
