"""On SQLite a first import inserts many rows per statement: every row lands once, in the bundle's
order (the first of each same-item group is the primary one), whatever is left over at the end of a
batch included, and no statement asks for more parameters than the connection takes."""

import sqlite3

import pytest
from django.db import connection

from records import store
from records.models import Resource
from tests.records.conftest import generated, ingest_bundle

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL writes a first import with COPY"),
]


def _sent(bundle: dict) -> list[tuple[str, str]]:
    return [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]


def _stored(user) -> list[tuple[str, str]]:
    return list(Resource.objects.filter(user=user).order_by("id").values_list("resource_type", "resource_id"))


@pytest.mark.parametrize(
    ("rows_per_insert", "write_batch"), [((7, 3), 20), ((1000, 100), 2000), ((1,), 3), ((50,), 120)]
)
def test_every_row_lands_once_in_the_bundles_order(
    user, private_storage_dir, monkeypatch, rows_per_insert, write_batch
):
    monkeypatch.setattr(store, "ROWS_PER_INSERT", rows_per_insert)
    monkeypatch.setattr(store, "WRITE_BATCH", write_batch)
    bundle = generated("mixed", size=120)
    ingest_bundle(user, bundle)
    assert _stored(user) == _sent(bundle)
    first_of_group: dict[str, int] = {}
    rows = list(Resource.objects.filter(user=user).order_by("id").values_list("id", "dedupe_key", "is_primary"))
    for pk, key, _primary in rows:
        first_of_group.setdefault(key, pk)
    assert len(first_of_group) < len(rows)  # the record has same-item groups to decide
    assert [primary for _pk, _key, primary in rows] == [first_of_group[key] == pk for pk, key, _primary in rows]


@pytest.fixture
def few_parameters_per_statement():
    """This connection takes parameters for three rows of 26 to a statement, and refuses more."""
    connection.ensure_connection()
    was = connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 26 * 3 + 5)
    yield 26 * 3 + 5
    connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, was)


def test_statements_stay_within_the_connections_parameter_limit(
    user, private_storage_dir, few_parameters_per_statement
):
    placeholders: list[int] = []

    def noting(execute, sql, params, many, context):
        if sql.startswith(f"INSERT INTO {connection.ops.quote_name(Resource._meta.db_table)}"):
            placeholders.append(sql.count("%s"))
        return execute(sql, params, many, context)

    bundle = generated("clean", size=250)
    with connection.execute_wrapper(noting):
        ingest_bundle(user, bundle)
    assert _stored(user) == _sent(bundle)
    assert placeholders and max(placeholders) <= few_parameters_per_statement


def test_rows_go_in_through_executemany_only(user, private_storage_dir):
    """Under DEBUG, Django logs an `execute` by having SQLite quote each parameter (each row's JSON)."""
    calls: list[bool] = []

    def noting(execute, sql, params, many, context):
        if sql.startswith(f"INSERT INTO {connection.ops.quote_name(Resource._meta.db_table)}"):
            calls.append(many)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(noting):
        ingest_bundle(user, generated("clean", size=250))
    assert calls and all(calls)
