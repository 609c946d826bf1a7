"""The staff admin for ias: staff with MFA only, searchable lists, health data read-only, the decrypted
raw body for staff, and the three actions staff use instead of a shell (reprocess, poll, mark failed)."""

import json
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.crypto import encrypt_text
from ias import queries, webhooks
from ias.models import (
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    PatientDeletion,
    QuerySource,
    WebhookEvent,
)
from ias.network import SourceChoice
from tests.ias.conftest import aal2_passed, verified
from tests.ias.fakes import source_event
from tests.ias.helpers import store

pytestmark = pytest.mark.django_db

MODELS = [NetworkPatient, IdentityVerification, Aal2Challenge, NetworkQuery, WebhookEvent, PatientDeletion]
DEMOGRAPHICS = {"firstName": "Jordan", "lastName": "Sample-Admin", "dob": "1984-07-12"}


def _url(model, view, *args):
    return reverse(f"admin:ias_{model._meta.model_name}_{view}", args=args)


def _results(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def _give_reason(client, person) -> None:
    """Staff say why before they open a person's health data (issue 11)."""
    response = client.post(
        reverse("admin:accounts_user_access_reason", args=[person.pk]),
        {"choice": "Investigating a failed or stuck request", "next": "/admin/"},
    )
    assert response.status_code == 302


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _act(client, model, action: str, pks: list[int]):
    return client.post(
        _url(model, "changelist"),
        {"action": action, "_selected_action": [str(pk) for pk in pks], "index": 0},
        follow=True,
    )


@pytest.fixture
def journey(mfa_user, other_user, network):
    """Two people with a network link (demographics stored), identity, AAL2, a running query, a body."""
    rows = {}
    for person, patient_id in ((mfa_user, "pat_admin_1"), (other_user, "pat_admin_2")):
        link = verified(person, patient_id)
        link.demographics_encrypted = encrypt_text(json.dumps({**DEMOGRAPHICS, "email": person.email}))
        link.save()
        aal2_passed(person)
        query = queries.network_query_start(user=person, sources=SourceChoice(hie=True, pharmacy=True, lab=True))
        assert query.request_id is not None
        event = store(
            source_event("hie", patient_id=patient_id, request_id=query.request_id, url=f"https://b.test/{patient_id}")
        )
        rows[person.pk] = {"link": link, "query": query, "event": event}
    PatientDeletion.objects.create(network_patient_id="pat_gone", facility_id="fac_test")
    return rows


# --- who may enter ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_non_staff_get_403_and_anonymous_are_sent_to_sign_in(client, client_mfa, model):
    assert client_mfa.get(_url(model, "changelist")).status_code == 403
    response = client.get(_url(model, "changelist"))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("account_login")


def test_non_staff_cannot_run_an_action(client_mfa, journey, mfa_user):
    query = journey[mfa_user.pk]["query"]
    response = client_mfa.post(
        _url(NetworkQuery, "changelist"), {"action": "mark_failed", "_selected_action": [str(query.pk)]}
    )
    assert response.status_code == 403
    query.refresh_from_db()
    assert query.status == NetworkQuery.Status.PROCESSING


def test_staff_without_mfa_this_session_must_use_it(staff_user, make_mfa_client, journey):
    client = make_mfa_client(staff_user, mfa_at=False)
    response = client.get(_url(NetworkQuery, "changelist"))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("mfa_reauthenticate")


# --- lists: load, search, filter -----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_every_list_page_loads_for_staff(staff_client_mfa, journey, model):
    rows = _results(staff_client_mfa.get(_url(model, "changelist")))
    assert len(rows) == model.objects.count() > 0


def test_lists_are_searchable_by_email_and_network_ids(staff_client_mfa, journey, mfa_user, other_user):
    mine = journey[mfa_user.pk]
    get = staff_client_mfa.get

    for model in (NetworkPatient, IdentityVerification, Aal2Challenge, NetworkQuery):
        rows = _results(get(_url(model, "changelist"), {"q": mfa_user.email}))
        assert rows and {row.user_id for row in rows} == {mfa_user.pk}, model
    assert _results(get(_url(NetworkPatient, "changelist"), {"q": "pat_admin_2"})) == [journey[other_user.pk]["link"]]
    assert _results(get(_url(NetworkQuery, "changelist"), {"q": mine["query"].request_id})) == [mine["query"]]
    assert _results(get(_url(WebhookEvent, "changelist"), {"q": mine["query"].request_id})) == [mine["event"]]
    assert _results(get(_url(WebhookEvent, "changelist"), {"q": "pat_admin_1"})) == [mine["event"]]
    assert _results(get(_url(PatientDeletion, "changelist"), {"q": "pat_gone"}))
    assert _results(get(_url(NetworkQuery, "changelist"), {"q": "nobody@example.com"})) == []


def test_lists_are_filterable(staff_client_mfa, journey, mfa_user, other_user):
    get = staff_client_mfa.get
    WebhookEvent.objects.filter(pk=journey[mfa_user.pk]["event"].pk).update(status=WebhookEvent.Status.FAILED)
    queries.query_mark_failed(query_id=journey[other_user.pk]["query"].pk, reason="test")

    failed_events = _results(get(_url(WebhookEvent, "changelist"), {"status__exact": "failed"}))
    assert failed_events == [journey[mfa_user.pk]["event"]]
    assert len(_results(get(_url(WebhookEvent, "changelist"), {"event_type__exact": "network-query.hie"}))) == 2
    failed_queries = _results(get(_url(NetworkQuery, "changelist"), {"status__exact": "failed"}))
    assert failed_queries == [journey[other_user.pk]["query"]]
    assert len(_results(get(_url(NetworkQuery, "changelist"), {"kind__exact": "network"}))) == 2
    assert len(_results(get(_url(IdentityVerification, "changelist"), {"status__exact": "verified"}))) == 2
    assert _results(get(_url(IdentityVerification, "changelist"), {"status__exact": "pending"})) == []
    assert len(_results(get(_url(PatientDeletion, "changelist"), {"status__exact": "pending"}))) == 1


# --- health data is read-only --------------------------------------------------------------------


def test_network_patient_shows_demographics_decrypted_but_offers_no_edit(staff_client_mfa, journey, mfa_user):
    link = journey[mfa_user.pk]["link"]
    _give_reason(staff_client_mfa, mfa_user)
    response = staff_client_mfa.get(_url(NetworkPatient, "change", link.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sample-Admin" in page and "1984-07-12" in page
    assert link.demographics_encrypted not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    for field in ("demographics_encrypted", "patient_id", "facility_id", "user"):
        assert f'name="{field}"' not in page, field


def test_posting_changes_to_health_rows_is_refused(staff_client_mfa, journey, mfa_user):
    link, event = journey[mfa_user.pk]["link"], journey[mfa_user.pk]["event"]
    before_demographics, before_body = link.demographics_encrypted, bytes(event.body_encrypted)

    response = staff_client_mfa.post(
        _url(NetworkPatient, "change", link.pk),
        {"patient_id": "pat_hijacked", "facility_id": "fac_other", "demographics_encrypted": "x"},
    )
    assert response.status_code == 403
    response = staff_client_mfa.post(
        _url(WebhookEvent, "change", event.pk), {"status": "processed", "body_encrypted": "x"}
    )
    assert response.status_code == 403
    assert staff_client_mfa.get(_url(NetworkPatient, "add")).status_code == 403
    assert staff_client_mfa.post(_url(WebhookEvent, "add"), {"message_id": "forged"}).status_code == 403

    link.refresh_from_db()
    event.refresh_from_db()
    assert (link.patient_id, link.facility_id) == ("pat_admin_1", "fac_test")
    assert link.demographics_encrypted == before_demographics
    assert bytes(event.body_encrypted) == before_body
    assert event.status == WebhookEvent.Status.PENDING
    assert not WebhookEvent.objects.filter(message_id="forged").exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_health_rows_cannot_be_deleted_from_the_admin(staff_client_mfa, journey, model):
    """Deleting here would skip ias's forgetting (the network's copy, the durable deletion promise)."""
    row = model.objects.first()
    response = staff_client_mfa.post(_url(model, "delete", row.pk), {"post": "yes"})
    assert response.status_code == 403
    assert model.objects.filter(pk=row.pk).exists()
    changelist = staff_client_mfa.get(_url(model, "changelist")).content.decode()
    assert 'value="delete_selected"' not in changelist


# --- raw body viewer -----------------------------------------------------------------------------


def test_raw_body_viewer_shows_the_decrypted_body_to_staff(staff_client_mfa, journey, mfa_user):
    event = journey[mfa_user.pk]["event"]
    _give_reason(staff_client_mfa, mfa_user)
    response = staff_client_mfa.get(_url(WebhookEvent, "change", event.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Raw body (decrypted)" in page
    assert "https://b.test/pat_admin_1" in page
    assert event.message_id in page and '"patientId": "pat_admin_1"' in page.replace("&quot;", '"')
    assert 'name="body_encrypted"' not in page and 'name="_save"' not in page


def test_an_unreadable_body_says_so_without_failing_the_page(staff_client_mfa, journey, mfa_user):
    event = journey[mfa_user.pk]["event"]
    WebhookEvent.objects.filter(pk=event.pk).update(body_encrypted=b"not a fernet token")
    _give_reason(staff_client_mfa, mfa_user)
    response = staff_client_mfa.get(_url(WebhookEvent, "change", event.pk))
    assert response.status_code == 200
    assert "cannot be read" in response.content.decode()


# --- actions -------------------------------------------------------------------------------------


def test_reprocess_puts_a_failed_event_back_in_the_queue_and_it_is_processed(
    staff_client_mfa, journey, mfa_user, ingested, no_enqueue, django_capture_on_commit_callbacks
):
    event = journey[mfa_user.pk]["event"]
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=8, last_error="BundleDownloadError: boom"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client_mfa, WebhookEvent, "reprocess", [event.pk])
    assert response.status_code == 200
    assert "Queued 1 events again." in _messages(response)
    event.refresh_from_db()
    assert (event.status, event.attempts, event.claimed_until) == (WebhookEvent.Status.PENDING, 0, None)
    assert event.last_enqueued_at is not None
    assert no_enqueue == [("ias.event_process", {"event_id": event.pk})]

    # What the worker does with that message: the event is handled again and ingests the bundle.
    webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert [call["url"] for call in ingested.calls] == ["https://b.test/pat_admin_1"]


def test_poll_now_asks_the_network_and_finishes_the_query(staff_client_mfa, journey, mfa_user, network):
    query = journey[mfa_user.pk]["query"]
    done = {
        "requestId": query.request_id,
        "status": "completed",
        "sources": [
            {"type": source, "status": "completed", "completedAt": "2026-01-01T10:00:00Z"}
            for source in ("hie", "pharmacy", "lab")
        ],
    }
    network.on("GET", f"/medical/v1/network/query/{query.request_id}", httpx.Response(200, json=done))

    response = _act(staff_client_mfa, NetworkQuery, "poll_now", [query.pk])
    assert response.status_code == 200
    assert "Polled 1 queries." in _messages(response)
    assert len(network.calls_to("GET", f"/medical/v1/network/query/{query.request_id}")) == 1
    query.refresh_from_db()
    assert query.status == NetworkQuery.Status.COMPLETED
    assert query.poll_count == 1 and query.last_polled_at is not None
    assert set(query.sources.values_list("status", flat=True)) == {QuerySource.Status.COMPLETED}
    # No source webhook came, so the record is fetched another way: a consolidated-data query.
    assert NetworkQuery.objects.filter(parent=query, kind=NetworkQuery.Kind.CONSOLIDATED).exists()


def test_poll_now_reports_a_network_error_to_staff(staff_client_mfa, journey, mfa_user, other_user, network):
    mine, theirs = journey[mfa_user.pk]["query"], journey[other_user.pk]["query"]
    network.on(
        "GET",
        f"/medical/v1/network/query/{mine.request_id}",
        httpx.Response(400, json={"status": 400, "name": "BadRequest", "detail": "nope"}),
    )
    network.on(
        "GET",
        f"/medical/v1/network/query/{theirs.request_id}",
        httpx.Response(200, json={"requestId": theirs.request_id, "status": "processing", "sources": []}),
    )
    response = _act(staff_client_mfa, NetworkQuery, "poll_now", [mine.pk, theirs.pk])
    assert response.status_code == 200
    shown = _messages(response)
    assert any(mine.request_id in m for m in shown), shown
    assert "Polled 1 queries." in shown
    mine.refresh_from_db()
    assert mine.status == NetworkQuery.Status.PROCESSING


def test_mark_failed_gives_up_on_a_stuck_query(staff_client_mfa, journey, mfa_user, other_user):
    stuck, finished = journey[mfa_user.pk]["query"], journey[other_user.pk]["query"]
    NetworkQuery.objects.filter(pk=finished.pk).update(status=NetworkQuery.Status.COMPLETED)

    response = _act(staff_client_mfa, NetworkQuery, "mark_failed", [stuck.pk, finished.pk])
    assert response.status_code == 200
    assert "Marked 2 queries failed." in _messages(response)
    stuck.refresh_from_db()
    assert stuck.status == NetworkQuery.Status.FAILED
    assert stuck.failure_reason == "Stopped by Homeport staff."
    assert stuck.completed_at is not None
    assert set(stuck.sources.values_list("status", flat=True)) == {QuerySource.Status.FAILED}
    finished.refresh_from_db()
    assert finished.status == NetworkQuery.Status.COMPLETED
    assert finished.failure_reason == ""
