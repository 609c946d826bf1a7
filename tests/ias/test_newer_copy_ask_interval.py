"""A save asks whether a newer copy of the record is waiting before its download, once the download
is in and as its rows begin: for a small record, milliseconds apart. A "no" stands for
NEWER_COPY_ASK_SECONDS without reading the database again; the first ask of every save reads it, and
a copy stored meanwhile is found by the first ask after the interval, or saved by its own event."""

import pytest

from ias.delivery import NEWER_COPY_ASK_SECONDS
from ias.models import QuerySource, WebhookEvent
from records.errors import BundleSuperseded
from tests.ias.test_bundle_handover import process, records_of, stored
from tests.ias.test_handlers import start_query, verified

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("ias.delivery.monotonic", fake)
    return fake


def test_a_no_stands_for_the_interval_then_the_database_is_read_again(
    mfa_user, network, ingested, no_enqueue, clock, django_assert_num_queries, monkeypatch
):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    real_call = type(ingested).__call__
    answers: list[bool] = []

    def call(self, **kwargs):
        check = kwargs["superseded"]
        if not answers:
            answers.append(check())
            stored("lab", query.request_id)
            clock.now += NEWER_COPY_ASK_SECONDS / 2
            with django_assert_num_queries(0):
                answers.append(check())
            clock.now += NEWER_COPY_ASK_SECONDS
            answers.append(check())
            raise BundleSuperseded()
        return real_call(self, **kwargs)

    monkeypatch.setattr(type(ingested), "__call__", call)
    process(hie)
    assert answers == [False, False, True]
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/lab.json"]
    assert records_of(query)["hie"] == QuerySource.Records.FETCHED


def test_every_save_asks_the_database_first(mfa_user, network, ingested, no_enqueue, clock, monkeypatch):
    """The clock does not move, yet each save's first ask reads the database: hie's save hands over to
    pharmacy's copy, and pharmacy's save, its first ask coming right after lab's copy arrived, finds it."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    real_call = type(ingested).__call__
    answers: dict[str, bool] = {}

    def call(self, **kwargs):
        name = kwargs["url"].rsplit("/", 1)[-1]
        check = kwargs["superseded"]
        if name == "hie.json":
            answers[name] = check()
            stored("pharmacy", query.request_id)
            raise BundleSuperseded()
        if name == "pharmacy.json":
            stored("lab", query.request_id)
        answers[name] = check()
        if answers[name]:
            raise BundleSuperseded()
        return real_call(self, **kwargs)

    monkeypatch.setattr(type(ingested), "__call__", call)
    assert process(hie).status == WebhookEvent.Status.PROCESSED
    assert answers == {"hie.json": False, "pharmacy.json": True, "lab.json": False}
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/lab.json"]
