"""People are told: one "records ready" or "search failed" email per search, after its records are in."""

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from ias import queries, query_state
from ias.models import NetworkQuery
from ias.network import SourceChoice
from tests.ias.conftest import aal2_passed, saved_snapshot, verified
from tests.ias.fakes import source_event
from tests.ias.helpers import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(settings):
    settings.PORTAL_BASE_URL = "https://homeport.example.org"
    settings.SITE_NAME = "Homeport"
    return settings.PORTAL_BASE_URL


def finished_search(user, *, status="completed", url="https://bundles.test/b.json"):
    aal2_passed(user)
    query = queries.network_query_start(user=user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    assert query.request_id is not None
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, status=status, url=url))
    return NetworkQuery.objects.get(pk=query.pk)


def test_the_email_is_enqueued_once_after_the_records_are_in(
    mfa_user, network, ingested, no_enqueue, django_capture_on_commit_callbacks
):
    verified(mfa_user, "pat_1")
    with django_capture_on_commit_callbacks(execute=True):
        query = finished_search(mfa_user)
        query_state.source_records_set(source_id=query.sources.get().pk, records="fetched")  # a redelivery
    sent = [kwargs for name, kwargs in no_enqueue if name == "ias.query_outcome_notify"]
    assert sent == [{"query_id": query.pk}]
    assert query.settled_at is not None


def test_records_ready_holds_a_link_and_no_health_data(mfa_user, network, ingested, no_enqueue, portal):
    verified(mfa_user, "pat_1")
    query = finished_search(mfa_user)
    assert queries.query_outcome_notify(query_id=query.pk) is True
    assert queries.query_outcome_notify(query_id=query.pk) is False  # once per search
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [mfa_user.email]
    assert message.subject == "[Homeport] Your records are ready"
    assert f"{portal}/records/" in message.body
    assert "no health information" in message.body
    assert isinstance(message, EmailMultiAlternatives)
    html = str(dict((kind, body) for body, kind in message.alternatives)["text/html"])
    assert f'href="{portal}/records/"' in html and "Homeport" in html
    for health_word in ("Observation", "lab", "HbA1c", "glucose", "pharmacy"):
        assert health_word not in message.body


def test_search_failed_links_to_the_search_page(mfa_user, network, no_enqueue, portal):
    verified(mfa_user, "pat_1")
    query = finished_search(mfa_user, status="failed", url="")
    assert query.settled_at is not None
    queries.query_outcome_notify(query_id=query.pk)
    message = mail.outbox[0]
    assert "did not finish" in message.subject
    assert f"{portal}/journey/search/{query.public_id}/" in message.body
    assert "could not be completed" in message.body


def test_no_records_says_so(mfa_user, network, monkeypatch, no_enqueue, portal):
    verified(mfa_user, "pat_1")
    monkeypatch.setattr("ias.delivery.records_ingest_from_url", lambda **kw: saved_snapshot(Patient=1))
    query = finished_search(mfa_user)
    queries.query_outcome_notify(query_id=query.pk)
    assert "it found no records" in mail.outbox[0].body


def test_a_search_where_a_source_failed_says_not_every_source_answered(mfa_user, network, ingested, no_enqueue, portal):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=True))
    deliver(
        source_event("hie", patient_id="pat_1", request_id=str(query.request_id), url="https://bundles.test/b.json")
    )
    deliver(source_event("lab", patient_id="pat_1", request_id=str(query.request_id), status="failed", url=""))
    query.refresh_from_db()
    assert query.settled_at is not None
    assert queries.query_outcome_notify(query_id=query.pk) is True
    message = mail.outbox[0]
    assert message.subject == "[Homeport] Some of your records are ready"
    assert "not every source sent its records this time" in message.body
    assert "up to date" not in message.body
    assert f"{portal}/records/" in message.body
    assert f"{portal}/journey/search/{query.public_id}/" in message.body


def test_a_search_where_every_source_answered_says_the_record_is_up_to_date(
    mfa_user, network, ingested, no_enqueue, portal
):
    verified(mfa_user, "pat_1")
    query = finished_search(mfa_user)
    queries.query_outcome_notify(query_id=query.pk)
    assert "your record is up to date" in mail.outbox[0].body
    assert "not every source" not in mail.outbox[0].body


def test_nothing_is_sent_when_the_person_turned_these_emails_off(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    mfa_user.email_notifications = False
    mfa_user.save(update_fields=["email_notifications"])
    query = finished_search(mfa_user)
    assert queries.query_outcome_notify(query_id=query.pk) is False
    assert mail.outbox == []


def test_nothing_is_sent_while_records_are_still_saving(mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    assert queries.query_outcome_notify(query_id=query.pk) is False
    assert mail.outbox == []


def companion_of(search: NetworkQuery) -> NetworkQuery:
    """Another network's part of the search (as `companion_query_start` makes it), still searching."""
    from ias.models import QuerySource

    companion = NetworkQuery.objects.create(
        user=search.user, kind=NetworkQuery.Kind.NETWORK, network="particle", parent=search, request_id="pp:q1"
    )
    QuerySource.objects.create(query=companion, source_type="all")
    return companion


def companion_finishes(companion: NetworkQuery, *, records: str, status: str = "completed") -> None:
    source = companion.sources.get()
    query_state.source_event_apply(
        user_id=companion.user_id,
        request_id=str(companion.request_id),
        query_ref="",
        source_type="all",
        status=status,
        completed_at=None,
        first_data=False,
    )
    if status == "completed":
        query_state.source_records_set(source_id=source.pk, records=records, saved=3 if records == "fetched" else 0)


def test_a_search_with_two_networks_tells_the_person_once_the_second_networks_records_are_in(
    mfa_user, network, ingested, no_enqueue, django_capture_on_commit_callbacks
):
    verified(mfa_user, "pat_1")
    with django_capture_on_commit_callbacks(execute=True):
        aal2_passed(mfa_user)
        search = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
        companion = companion_of(search)
        deliver(
            source_event(
                "hie", patient_id="pat_1", request_id=str(search.request_id), url="https://bundles.test/b.json"
            )
        )
    search.refresh_from_db()
    assert search.is_terminal and search.settled_at is None  # Metriport's records are in; Particle's are not
    assert not [name for name, _ in no_enqueue if name == "ias.query_outcome_notify"]

    with django_capture_on_commit_callbacks(execute=True):
        companion_finishes(companion, records="fetched")
    search.refresh_from_db()
    companion.refresh_from_db()
    assert companion.settled_at is not None and search.settled_at is not None
    assert [kwargs for name, kwargs in no_enqueue if name == "ias.query_outcome_notify"] == [{"query_id": search.pk}]


def test_the_second_network_finishing_first_waits_for_the_search(
    mfa_user, network, ingested, no_enqueue, django_capture_on_commit_callbacks
):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    search = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    companion = companion_of(search)
    with django_capture_on_commit_callbacks(execute=True):
        companion_finishes(companion, records="empty")
    search.refresh_from_db()
    assert search.settled_at is None
    assert not [name for name, _ in no_enqueue if name == "ias.query_outcome_notify"]
    with django_capture_on_commit_callbacks(execute=True):
        deliver(
            source_event(
                "hie", patient_id="pat_1", request_id=str(search.request_id), url="https://bundles.test/b.json"
            )
        )
    assert [kwargs for name, kwargs in no_enqueue if name == "ias.query_outcome_notify"] == [{"query_id": search.pk}]


def test_records_from_the_second_network_alone_are_some_records_ready(mfa_user, network, no_enqueue, portal):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    search = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    companion = companion_of(search)
    deliver(source_event("hie", patient_id="pat_1", request_id=str(search.request_id), status="failed", url=""))
    companion_finishes(companion, records="fetched")
    search.refresh_from_db()
    assert search.settled_at is not None
    assert queries.query_outcome_notify(query_id=search.pk) is True
    # The first network's source failed: what arrived is in, but the record is not up to date.
    assert mail.outbox[-1].subject == "[Homeport] Some of your records are ready"
    assert "not every source sent its records" in mail.outbox[-1].body


def test_both_networks_failing_is_search_failed(mfa_user, network, no_enqueue, portal):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    search = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    companion = companion_of(search)
    deliver(source_event("hie", patient_id="pat_1", request_id=str(search.request_id), status="failed", url=""))
    companion_finishes(companion, records="", status="failed")
    search.refresh_from_db()
    assert search.settled_at is not None
    assert queries.query_outcome_notify(query_id=search.pk) is True
    assert mail.outbox[-1].subject == "[Homeport] Your search for records did not finish as hoped"
