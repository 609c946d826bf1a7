"""A save asks whether a newer copy of the record is waiting before its download, once the download
is in and as its rows begin: for a small record, milliseconds apart, and `bundle_fetch` has looked
just before it. A "no" stands for NEWER_COPY_ASK_SECONDS without reading the database again; the look
before a save is that save's first "no", and a copy stored meanwhile is found by the first ask after
the interval, or saved by its own event."""

import pytest

from ias.delivery import NEWER_COPY_ASK_SECONDS
from ias.models import QuerySource, WebhookEvent
from records.errors import BundleSuperseded
from tests.ias.test_bundle_handover import process, records_of, stored
from tests.ias.test_handlers import start_query, verified

pytestmark = pytest.mark.django_db


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


def test_the_look_before_each_save_is_its_first_no(
    mfa_user, network, ingested, no_enqueue, clock, django_assert_num_queries, monkeypatch
):
    """Each save's first ask is answered by the look made just before it, with no statement, even when
    a newer copy arrived in between; the first ask after the interval reads the database and finds
    it. hie's save hands over to pharmacy's copy, and pharmacy's to lab's, which is saved."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    real_call = type(ingested).__call__
    answers: dict[str, list[bool]] = {}
    arrives = {"hie.json": "pharmacy", "pharmacy.json": "lab"}

    def call(self, **kwargs):
        name = kwargs["url"].rsplit("/", 1)[-1]
        check = kwargs["superseded"]
        if name in arrives:
            stored(arrives[name], query.request_id)
        with django_assert_num_queries(0):
            first = check()
        clock.now += 2 * NEWER_COPY_ASK_SECONDS
        answers[name] = [first, check()]
        if answers[name][1]:
            raise BundleSuperseded()
        return real_call(self, **kwargs)

    monkeypatch.setattr(type(ingested), "__call__", call)
    assert process(hie).status == WebhookEvent.Status.PROCESSED
    assert answers == {"hie.json": [False, True], "pharmacy.json": [False, True], "lab.json": [False, False]}
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/lab.json"]
    assert records_of(query)["hie"] == QuerySource.Records.FETCHED
