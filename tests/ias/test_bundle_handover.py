"""Three sources answer seconds apart, each linking the whole record as of then: an event whose
bundle is already older than one still waiting saves the newer copy in its place, so a large record
is saved once rather than once per source, and every source reads "done" only once it is in."""

import pytest

from ias import webhooks
from ias.models import NetworkPatient, QuerySource, WebhookEvent
from records.errors import BundleSuperseded
from tests.ias.conftest import linked
from tests.ias.fakes import source_event
from tests.ias.helpers import store
from tests.ias.test_handlers import start_query, verified

pytestmark = pytest.mark.django_db

WHEN = {"hie": "2026-01-01T10:01:00Z", "pharmacy": "2026-01-01T10:02:00Z", "lab": "2026-01-01T10:03:00Z"}


def stored(source: str, request_id: str, *, patient_id: str = "pat_1", url: str | None = None) -> WebhookEvent:
    return store(
        source_event(
            source,
            patient_id=patient_id,
            request_id=request_id,
            url=f"https://bundles.test/{source}.json" if url is None else url,
            when=WHEN[source],
        )
    )


def process(event: WebhookEvent) -> WebhookEvent:
    webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


def records_of(query) -> dict[str, str]:
    return dict(query.sources.values_list("source_type", "records"))


def test_the_oldest_event_saves_the_newest_waiting_copy_once(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie, pharmacy, lab = (stored(source, query.request_id) for source in ("hie", "pharmacy", "lab"))

    process(hie)
    assert [(c["url"], c["network_source"]) for c in ingested.calls] == [("https://bundles.test/lab.json", "lab")]
    assert records_of(query) == {"hie": "fetched", "pharmacy": "none", "lab": "none"}
    link = NetworkPatient.objects.get(user=mfa_user)
    assert link.last_ingested_message_id == lab.message_id

    process(pharmacy)
    process(lab)
    assert len(ingested.calls) == 1
    assert records_of(query) == {"hie": "fetched", "pharmacy": "skipped", "lab": "skipped"}
    query.refresh_from_db()
    assert query.status == "completed"


def test_a_newer_event_without_a_link_is_not_a_copy(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    stored("lab", query.request_id, url="")
    process(hie)
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/hie.json"]


def test_another_persons_newer_event_is_not_a_copy(mfa_user, user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    linked(user, "pat_2")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    stored("lab", "req-someone-else", patient_id="pat_2")
    process(hie)
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/hie.json"]


def test_an_event_already_processed_is_not_waiting(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    lab = stored("lab", query.request_id)
    WebhookEvent.objects.filter(pk=lab.pk).update(status=WebhookEvent.Status.FAILED)
    process(hie)
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/hie.json"]


def test_a_copy_arriving_while_waiting_for_the_lock_takes_over(mfa_user, network, ingested, no_enqueue, monkeypatch):
    """The ingest asks again once it holds the person's lock; a newer copy stored meanwhile wins.
    (Here the second ask comes after the interval a "no" stands for: see test_newer_copy_ask_interval.)"""
    ticks = iter(range(0, 1000, 10))
    monkeypatch.setattr("ias.delivery.monotonic", lambda: float(next(ticks)))
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    hie = stored("hie", query.request_id)
    real_call = type(ingested).__call__
    arrived: list[WebhookEvent] = []

    def call(self, **kwargs):
        check = kwargs["superseded"]
        assert check is not None and check() is False
        if not arrived:
            arrived.append(stored("lab", query.request_id))
            assert check() is True
            raise BundleSuperseded()
        return real_call(self, **kwargs)

    type(ingested).__call__ = call
    try:
        process(hie)
    finally:
        type(ingested).__call__ = real_call
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/lab.json"]
    assert records_of(query)["hie"] == QuerySource.Records.FETCHED
    assert process(arrived[0]).status == WebhookEvent.Status.PROCESSED
    assert len(ingested.calls) == 1
