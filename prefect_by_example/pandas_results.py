"""pandas DataFrames as Prefect 3 task results: plain files in any pandas format, named from task arguments.

Prefect 3 stores a task's result with a serializer (pickle or JSON) and, by default, wraps it
in a JSON record. Three pieces make the stored result a file a person can open instead:

- `PandasSerializer` writes a DataFrame with `DataFrame.to_<format>` and reads it back with
  `pandas.read_<format>` (csv, parquet, json, feather, orc, pickle, ...);
- `FileName` is a cache policy whose key is a file name filled from the task's arguments,
  e.g. ``"data_{id}.csv"``, so every call (and every item of a ``.map()``) gets its own file;
- `pandas_result()` bundles both with the two folders Prefect needs: one for the data files,
  one for the small metadata records that tell Prefect a result exists (with the records kept
  apart, the data file holds only the serialized DataFrame).

A task whose file (and record) already exist is not run again: its DataFrame is read back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect.cache_policies import CachePolicy
from prefect.serializers import Serializer
from pydantic import Field, field_validator

__all__ = ["FileName", "PandasSerializer", "pandas_result"]

# options for files a person can read and a clean round trip; the caller's options win
DEFAULT_WRITE_OPTIONS: dict[str, dict[str, Any]] = {
    "csv": {"index": False},
    "json": {"orient": "records", "date_format": "iso"},
}
DEFAULT_READ_OPTIONS: dict[str, dict[str, Any]] = {"json": {"orient": "records"}}
# the formats pandas writes to and reads from a file object (excel and xml need openpyxl, lxml)
FORMATS = ("csv", "excel", "feather", "json", "orc", "parquet", "pickle", "stata", "xml")
# file suffixes that are not the name of their pandas format
SUFFIX_FORMATS = {"pkl": "pickle", "pq": "parquet", "xlsx": "excel", "dta": "stata"}


class PandasSerializer(Serializer):
    """Serialize a DataFrame to the bytes of one pandas file format, and back."""

    type: str = Field(default="pandas", frozen=True)
    format: str = "csv"
    write_options: dict[str, Any] = Field(default_factory=dict)
    read_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        value = SUFFIX_FORMATS.get(value.lower(), value.lower())
        if value not in FORMATS:
            raise ValueError(f"no pandas file format {value!r}: use one of {', '.join(FORMATS)}")
        return value

    def dumps(self, obj: pd.DataFrame) -> bytes:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(
                f"PandasSerializer stores DataFrames, got {type(obj).__name__}: "
                "return a DataFrame from the task or use another result serializer"
            )
        buffer = io.BytesIO()
        options = {**DEFAULT_WRITE_OPTIONS.get(self.format, {}), **self.write_options}
        getattr(obj, f"to_{self.format}")(buffer, **options)
        return buffer.getvalue()

    def loads(self, blob: bytes) -> pd.DataFrame:
        options = {**DEFAULT_READ_OPTIONS.get(self.format, {}), **self.read_options}
        return getattr(pd, f"read_{self.format}")(io.BytesIO(blob), **options)


@dataclass
class FileName(CachePolicy):
    """A cache key that is a file name: `template` filled from the task's arguments."""

    template: str = ""

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str:
        try:
            return self.template.format(**(inputs or {}))
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"file name template {self.template!r} names {exc}, which is not an argument "
                f"of the task (its arguments: {', '.join(inputs or {}) or 'none'})"
            ) from None


def pandas_result(
    template: str,
    *,
    folder: str | Path = "results",
    records: str | Path = "results/.records",
    format: str | None = None,
    read_options: dict[str, Any] | None = None,
    **write_options: Any,
) -> dict[str, Any]:
    """Task options that keep the task's DataFrame in `folder`/`template`, filled from its arguments.

    `format` defaults to the template's suffix ("data_{id}.parquet" -> parquet);
    `read_options` go to `pandas.read_<format>`, further keyword arguments to
    `DataFrame.to_<format>`. Use as ``@task(**pandas_result(...))``.
    """
    fmt = format or Path(template).suffix.lstrip(".")
    if not fmt:
        raise ValueError(f"give a format, or a file suffix in the template: {template!r}")
    return {
        "cache_policy": FileName(template=template, key_storage=Path(records)),
        "result_storage": Path(folder),
        "result_serializer": PandasSerializer(
            format=fmt, write_options=write_options, read_options=read_options or {}
        ),
        "persist_result": True,
    }
