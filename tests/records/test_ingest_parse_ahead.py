"""On SQLite the next chunk is parsed while the previous one is written (records.ingest.chunks_ahead):
the same chunks in the same order, in the caller's language, errors raised to the writer, and a
writer that stops early stops the parse."""

import threading
import time

import pytest
from django.utils import translation

from records import ingest
from records.models import Resource
from tests.records.conftest import ingest_bundle


def _numbers(count, *, fail_at=None, seen=None):
    for number in range(count):
        if seen is not None:
            seen.append((number, threading.current_thread().name, translation.get_language()))
        if number == fail_at:
            raise ValueError("bad chunk")
        yield [number]


def test_every_chunk_arrives_once_in_order_parsed_in_another_thread_in_the_callers_language():
    seen: list = []
    with translation.override("es"):
        got = list(ingest.chunks_ahead(_numbers(50, seen=seen)))
    assert got == [[n] for n in range(50)]
    assert {name for _n, name, _language in seen} == {"ingest-parse-ahead"}
    assert {language for _n, _name, language in seen} == {"es"}


def test_an_error_while_parsing_is_raised_to_the_writer_after_the_chunks_before_it():
    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for chunk in ingest.chunks_ahead(_numbers(10, fail_at=4)):
            got.append(chunk)
    assert got == [[0], [1], [2], [3]]


def test_a_writer_that_stops_early_stops_the_parse():
    seen: list = []
    ahead = ingest.chunks_ahead(_numbers(1000, seen=seen))
    assert next(ahead) == [0]
    ahead.close()
    parsed = len(seen)
    time.sleep(0.3)
    assert len(seen) == parsed <= 3
    assert not any(t.name == "ingest-parse-ahead" for t in threading.enumerate())


@pytest.mark.django_db(transaction=True)
def test_an_sqlite_ingest_parsed_ahead_writes_what_one_parsed_in_line_writes(
    user, generated_bundle, private_storage_dir, monkeypatch, django_user_model
):
    ingest_bundle(user, generated_bundle)
    columns = ["resource_type", "resource_id", "display", "flag", "value_unit", "source_org", "is_primary"]
    ahead = sorted(Resource.objects.filter(user=user).values_list(*columns))
    other = django_user_model.objects.create_user(email="in.line@example.com", password=None)
    monkeypatch.setattr(ingest, "chunks_ahead", lambda chunks: chunks)
    ingest_bundle(other, generated_bundle)
    assert sorted(Resource.objects.filter(user=other).values_list(*columns)) == ahead
    assert len(ahead) > 100


@pytest.mark.django_db
def test_the_rows_are_parsed_ahead_on_sqlite_and_in_line_in_one_postgresql_transaction(
    user, generated_bundle, private_storage_dir, monkeypatch
):
    from django.db import connection

    threads = set()
    extract = ingest.extract

    def spied(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return extract(*args, **kwargs)

    monkeypatch.setattr(ingest, "extract", spied)
    ingest_bundle(user, generated_bundle)
    expected = "ingest-parse-ahead" if connection.vendor == "sqlite" else threading.current_thread().name
    assert threads == {expected}
