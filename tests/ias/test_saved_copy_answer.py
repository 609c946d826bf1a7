"""A copy that is not saved again answers what it brought when it was saved: an event processed
again after a crash, once its copy was saved and found empty, must not turn the person's search
into "records ready" with nothing in their record."""

import pytest

from ias import selectors, webhooks
from ias.models import QuerySource, WebhookEvent
from records.models import Snapshot
from tests.ias.conftest import verified
from tests.ias.fakes import source_event
from tests.ias.helpers import store
from tests.ias.test_bundle_handover import process, records_of, stored
from tests.ias.test_handlers import start_query

pytestmark = pytest.mark.django_db


def saves_as_records_does(counts_by_type: dict[str, int]):
    """The ingest's stand-in: a completed snapshot filed under the copy's request and source."""

    def save(**kwargs) -> Snapshot:
        return Snapshot.objects.create(
            user_id=kwargs["user_id"],
            network=kwargs["network"],
            request_id=kwargs["request_id"],
            network_source=kwargs["network_source"],
            status=Snapshot.STATUS_COMPLETE,
            counts_by_type=counts_by_type,
        )

    return save


def processed_twice(user, network, monkeypatch, counts_by_type: dict[str, int]):
    verified(user, "pat_1")
    query = start_query(user, network, sources=("hie",))
    monkeypatch.setattr("ias.delivery.records_ingest_from_url", saves_as_records_does(counts_by_type))
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    webhooks.event_process(event_id=event.pk)
    first = QuerySource.objects.get(query=query).records
    # The worker died after the save, before marking the event: it is processed again.
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.PENDING, claimed_until=None)
    webhooks.event_process(event_id=event.pk)
    return query, first


def test_an_empty_copy_processed_again_still_reads_empty(mfa_user, network, no_enqueue, monkeypatch):
    query, first = processed_twice(mfa_user, network, monkeypatch, {"Patient": 1})

    assert first == QuerySource.Records.EMPTY
    assert QuerySource.objects.get(query=query).records == QuerySource.Records.EMPTY
    assert Snapshot.objects.filter(user=mfa_user).count() == 1  # saved once
    query.refresh_from_db()
    assert query.settled_at is not None
    assert selectors.query_outcome(query=query) == "no_records"


def test_a_copy_with_records_processed_again_still_reads_fetched(mfa_user, network, no_enqueue, monkeypatch):
    query, first = processed_twice(mfa_user, network, monkeypatch, {"Patient": 1, "Observation": 3})

    assert first == QuerySource.Records.FETCHED
    source = QuerySource.objects.get(query=query)
    assert (source.records, source.records_saved) == (QuerySource.Records.FETCHED, 3)
    assert Snapshot.objects.filter(user=mfa_user).count() == 1
    assert selectors.query_outcome(query=query) == "ready"


def older_copy_processed_after_a_newer_one(user, network, monkeypatch, counts_by_type: dict[str, int]):
    """hie's copy is older than lab's, but lab's event is processed first and saves its copy."""
    verified(user, "pat_1")
    query = start_query(user, network, sources=("hie", "lab"))
    monkeypatch.setattr("ias.delivery.records_ingest_from_url", saves_as_records_does(counts_by_type))
    hie, lab = (stored(source, query.request_id) for source in ("hie", "lab"))
    process(lab)
    process(hie)
    return query


def test_an_older_copy_after_a_newer_empty_one_reads_empty(mfa_user, network, no_enqueue, monkeypatch):
    query = older_copy_processed_after_a_newer_one(mfa_user, network, monkeypatch, {"Patient": 1})

    # The record holds the newer copy, which held nothing: hie's older records are not in it.
    assert records_of(query) == {"hie": QuerySource.Records.EMPTY, "lab": QuerySource.Records.EMPTY}
    assert Snapshot.objects.filter(user=mfa_user).count() == 1
    assert selectors.query_outcome(query=query) == "no_records"


def test_an_older_copy_after_a_newer_one_with_records_reads_done(mfa_user, network, no_enqueue, monkeypatch):
    query = older_copy_processed_after_a_newer_one(mfa_user, network, monkeypatch, {"Patient": 1, "Condition": 2})

    assert records_of(query) == {"hie": QuerySource.Records.SKIPPED, "lab": QuerySource.Records.FETCHED}
    assert Snapshot.objects.filter(user=mfa_user).count() == 1
    assert selectors.query_outcome(query=query) == "ready"
    hie = next(s for s in selectors.progress_for(query=query)["sources"] if s["type"] == "hie")
    assert (hie["status_label"], hie["detail"]) == ("Done", "A newer copy of your whole record was already saved.")
