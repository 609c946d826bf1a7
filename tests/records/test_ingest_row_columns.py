"""A row's values are written by column position (COPY, the portable insert): the order must match."""

import dataclasses
from datetime import UTC, datetime
from typing import Any

from records.ingest import COLUMNS, Row
from records.models import Resource


def test_the_rows_fields_and_values_follow_the_columns_in_order():
    assert [field.name for field in dataclasses.fields(Row)] == list(COLUMNS)
    fields: dict[str, Any] = {name: f"<{name}>" for name in COLUMNS}
    fields |= {"raw": b"{}", "clinical_date": datetime(2024, 1, 2, tzinfo=UTC), "value_num": 7.2}
    row = Row(**fields)
    values = row.copy_values()
    assert len(values) == len(COLUMNS)
    for name, value in zip(COLUMNS, values, strict=True):
        expected = "{}" if name == "raw" else getattr(row, name)
        assert value == expected, name


def test_every_column_is_a_field_of_the_stored_resource():
    names = {field.column for field in Resource._meta.concrete_fields}
    assert set(COLUMNS) <= names
