"""One service per webhook event type, called with decoded news (no body, no handler), and the
handlers' decoding of bodies into that news."""

from datetime import UTC, datetime

import pytest

from ias import events, handlers
from ias.events import ConsolidatedNews, ConsolidatedPatient, DocumentsPatient, IdentityNews, SourceNews
from ias.models import IdentityVerification, NetworkQuery, QuerySource, WebhookEvent
from ias.network import SourceChoice
from records.errors import BundleLinkExpired
from tests.ias.conftest import aal2_passed, linked, verified
from tests.ias.fakes import consolidated_event, envelope, source_event
from tests.ias.helpers import store

pytestmark = pytest.mark.django_db


def news(query: NetworkQuery, source: str = "hie", url: str = "https://bundles.test/b.json", **changes) -> SourceNews:
    fields = {
        "patient_id": "pat_known",
        "request_id": query.request_id or "",
        "query_ref": "",
        "source_type": source,
        "status": "completed",
        "completed_at": datetime(2026, 1, 1, 10, tzinfo=UTC),
        "first_data": False,
        "url": url,
    }
    return SourceNews(**{**fields, **changes})


def started(user) -> NetworkQuery:
    from ias import queries

    verified(user)
    aal2_passed(user)
    return queries.network_query_start(user=user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))


def an_event(event_type: str = "network-query.hie") -> WebhookEvent:
    return store(envelope(event_type))


def test_source_event_moves_the_source_and_saves_its_records(user, network, ingested, no_enqueue):
    query = started(user)
    status, outcome = events.source_event_process(event=an_event(), news=news(query))
    row = query.sources.get(source_type="hie")
    assert (status, outcome) == (WebhookEvent.Status.PROCESSED, "hie completed; records fetched")
    assert (row.status, row.records) == (QuerySource.Status.COMPLETED, QuerySource.Records.FETCHED)
    assert len(ingested.calls) == 1 and ingested.calls[0]["url"] == "https://bundles.test/b.json"


def test_source_event_without_a_link_marks_the_records_empty(user, network, ingested, no_enqueue):
    query = started(user)
    _, outcome = events.source_event_process(event=an_event(), news=news(query, url=""))
    assert outcome == "hie completed; no link"
    assert query.sources.get(source_type="hie").records == QuerySource.Records.EMPTY
    assert ingested.calls == []


def test_source_event_with_an_expired_link_waits_for_the_whole_record(user, network, ingested, no_enqueue):
    query = started(user)
    ingested.fail.append(BundleLinkExpired("expired"))
    _, outcome = events.source_event_process(event=an_event(), news=news(query))
    assert outcome == "hie completed; records awaiting"
    assert query.sources.get(source_type="hie").records == QuerySource.Records.AWAITING
    assert NetworkQuery.objects.filter(kind=NetworkQuery.Kind.CONSOLIDATED, parent=query).count() == 1


def test_source_event_for_someone_elses_query_is_refused(user, other_user, network, ingested, no_enqueue):
    theirs = started(other_user)
    linked(user, "pat_mine")
    status, outcome = events.source_event_process(event=an_event(), news=news(theirs, patient_id="pat_mine"))
    assert status == WebhookEvent.Status.IGNORED and outcome.startswith("refused:")
    assert ingested.calls == []


def test_an_unknown_patient_is_ignored(no_enqueue):
    event = an_event("ias.identity.verified")
    lone = IdentityNews(patient_id="pat_nobody", session_id="s", verified=True, proofed_identity_id="pid")
    assert events.identity_event_process(event=event, news=lone) == (WebhookEvent.Status.IGNORED, "unknown patient")


def test_identity_event_records_the_outcome(user, no_enqueue):
    linked(user, "pat_1")
    said = IdentityNews(patient_id="pat_1", session_id="ids_1", verified=False, reason="No match")
    status, outcome = events.identity_event_process(event=an_event("ias.identity.failed"), news=said)
    assert (status, outcome) == (WebhookEvent.Status.PROCESSED, "identity failed")
    assert IdentityVerification.objects.get(session_id="ids_1").failure_reason == "No match"


def test_consolidated_event_answers_the_waiting_sources(user, network, ingested, no_enqueue):
    query = started(user)
    query.sources.update(status=QuerySource.Status.COMPLETED, records=QuerySource.Records.AWAITING)
    whole = ConsolidatedNews(
        request_id="cons_1",
        query_ref="",
        patients=[ConsolidatedPatient(patient_id="pat_known", status="completed", url="https://bundles.test/c.json")],
    )
    status, outcome = events.consolidated_event_process(event=an_event("medical.consolidated-data"), news=whole)
    assert (status, outcome) == (WebhookEvent.Status.PROCESSED, "consolidated fetched")
    assert query.sources.get().records == QuerySource.Records.FETCHED


def test_documents_event_is_noted_per_patient(user, no_enqueue):
    linked(user, "pat_1")
    patients = [
        DocumentsPatient(patient_id="pat_1", status="completed", documents=2),
        DocumentsPatient(patient_id="pat_x", status="completed", documents=1),
    ]
    _, outcome = events.documents_event_note(event=an_event("medical.document-download"), patients=patients)
    assert outcome == "medical.document-download: completed (2 documents); unknown patient"


# --- decoding at the edge ------------------------------------------------------------------------------


def test_a_source_body_is_decoded_into_news():
    body = source_event("lab", patient_id="pat_1", request_id="req_1", data={"homeportQueryId": "q-1"})
    said = handlers.source_news("network-query.lab", body)
    assert said == SourceNews(
        patient_id="pat_1",
        request_id="req_1",
        query_ref="q-1",
        source_type="lab",
        status="completed",
        completed_at=datetime(2026, 1, 1, 10, tzinfo=UTC),
        first_data=False,
        url="https://bundles.test/b.json",
    )


@pytest.mark.parametrize("payload", [None, [], "text", {"source": "hie", "consolidatedDataUrl": 5, "patientId": 7}])
def test_a_malformed_source_body_decodes_to_empty_fields(payload):
    said = handlers.source_news("network-query.hie", {"meta": "x", "payload": payload})
    assert said.source_type == "hie" and said.url == "" and said.request_id == ""
    assert said.patient_id in ("", "7")


def test_a_consolidated_body_reads_the_json_link_not_the_gzip():
    said = handlers.consolidated_news(consolidated_event(patient_id="pat_1", request_id="req_1"))
    assert said.patients == [
        ConsolidatedPatient(patient_id="pat_1", status="completed", url="https://bundles.test/c.json")
    ]


def test_identity_news_is_verified_only_with_a_well_formed_identity():
    body = envelope("ias.identity.verified", payload={"patientId": "p", "proofedIdentityId": "bad id!"})
    said = handlers.identity_news("ias.identity.verified", body)
    assert said.verified is False
