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
