"""The person page: one person's whole journey newest first, behind a reason, with staff actions."""

import pytest
from django.urls import reverse

from accounts.models import AccessLogEntry, EmailSent
from ias.models import NetworkQuery, QuerySource, WebhookEvent
from tests.ias import conftest as ias_fixtures
from tests.portal.staff_story import REASON, give_reason, person_story

pytestmark = pytest.mark.django_db

network = ias_fixtures.network
no_enqueue = ias_fixtures.no_enqueue


@pytest.fixture
def story(mfa_user, network):
    return person_story(mfa_user, network=network)


def _page(person) -> str:
    return reverse("admin:accounts_user_journey", args=[person.pk])


def _act(client, person, action: str, target: int):
    return client.post(
        reverse("admin:accounts_user_journey_act", args=[person.pk]), {"action": action, "target": target}
    )


def test_the_page_asks_why_first_and_logs_the_read(staff_client_mfa, staff_user, mfa_user, story):
    response = staff_client_mfa.get(_page(mfa_user))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:accounts_user_access_reason", args=[mfa_user.pk]))
    assert not AccessLogEntry.objects.filter(actor_kind="staff").exists()

    give_reason(staff_client_mfa, mfa_user, details="ticket 4711")
    response = staff_client_mfa.get(_page(mfa_user))
    assert response.status_code == 200
    entry = AccessLogEntry.objects.get(actor_kind="staff")
    assert (entry.actor, entry.subject, entry.action) == (staff_user, mfa_user, "staff:person")
    assert entry.reason == f"{REASON}: ticket 4711"


def test_the_page_shows_every_part_of_the_journey_newest_first(staff_client_mfa, mfa_user, story):
    give_reason(staff_client_mfa, mfa_user)
    response = staff_client_mfa.get(_page(mfa_user))
    page = response.content.decode()
    for expected in (
        "Account created",
        "Second factor enrolled: TOTP",
        "Consent given",
        "Network patient link created",
        story.link.patient_id,
        "Identity verification (IAL2)",
        "Confirm it&#x27;s you (AAL2)",
        "Network query",
        story.query.request_id,
        "The pharmacy network did not answer.",
        "Webhook network-query.hie",
        "BundleDownloadError: answered 500",
        "Record snapshot from hie",
        "1 resources: 1 new",
        "Email sent: [Homeport] Password changed",
        "Opened: Record summary",
    ):
        assert expected in page, expected
    assert story.link.demographics_encrypted not in page
    assert "secret" not in page.lower()
    times = [moment.at for moment in response.context["journey"].timeline]
    assert times == sorted(times, reverse=True)
    assert "no-store" in response["Cache-Control"]


def test_reprocess_from_the_page_requeues_the_failed_event(
    staff_client_mfa, mfa_user, story, no_enqueue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client_mfa, mfa_user, "reprocess", story.event.pk)
    assert response.status_code == 302
    story.event.refresh_from_db()
    assert (story.event.status, story.event.attempts) == (WebhookEvent.Status.PENDING, 0)
    assert no_enqueue == [("ias.event_process", {"event_id": story.event.pk})]


def test_poll_from_the_page_asks_the_network(staff_client_mfa, mfa_user, story, network):
    import httpx

    done = {
        "requestId": story.query.request_id,
        "status": "partial",
        "sources": [
            {"type": "hie", "status": "completed"},
            {"type": "pharmacy", "status": "failed"},
            {"type": "lab", "status": "completed"},
        ],
    }
    network.on("GET", f"/medical/v1/network/query/{story.query.request_id}", httpx.Response(200, json=done))
    response = _act(staff_client_mfa, mfa_user, "poll", story.query.pk)
    assert response.status_code == 302
    story.query.refresh_from_db()
    assert story.query.poll_count == 1 and story.query.is_terminal


def test_retry_a_failed_source_asks_for_the_record_again(staff_client_mfa, mfa_user, story, network):
    response = _act(staff_client_mfa, mfa_user, "retry_source", story.failed_source.pk)
    assert response.status_code == 302
    assert network.calls_to("POST", f"/medical/v1/patient/{story.link.patient_id}/consolidated/query")
    story.failed_source.refresh_from_db()
    assert story.failed_source.records == QuerySource.Records.AWAITING
    assert NetworkQuery.objects.filter(parent=story.query, kind=NetworkQuery.Kind.CONSOLIDATED).count() == 1


def test_resend_an_email_sends_it_again_without_its_links(staff_client_mfa, staff_user, mfa_user, story, mailoutbox):
    assert story.email.context == {"first_name": "Pat"}  # an allauth message: its links are never kept
    response = _act(staff_client_mfa, mfa_user, "resend_email", story.email.pk)
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [mfa_user.email]
    newest = EmailSent.objects.exclude(pk=story.email.pk).get()
    assert newest.resent_by == staff_user and newest.template_prefix == "account/email/password_changed"


def test_actions_on_another_persons_rows_are_refused(staff_client_mfa, mfa_user, other_user, story, no_enqueue):
    for action, target in (
        ("reprocess", story.event.pk),
        ("poll", story.query.pk),
        ("retry_source", story.failed_source.pk),
        ("resend_email", story.email.pk),
    ):
        response = _act(staff_client_mfa, other_user, action, target)
        assert response.status_code == 302
    story.event.refresh_from_db()
    assert story.event.status == WebhookEvent.Status.FAILED
    assert no_enqueue == []
    assert EmailSent.objects.count() == 1


def test_actions_need_post_and_staff(client_mfa, staff_client_mfa, mfa_user, story):
    url = reverse("admin:accounts_user_journey_act", args=[mfa_user.pk])
    assert staff_client_mfa.get(url).status_code == 405
    assert client_mfa.post(url, {"action": "reprocess", "target": story.event.pk}).status_code == 403


def test_the_export_is_logged_with_the_reason(staff_client_mfa, staff_user, mfa_user, story):
    url = reverse("admin:accounts_user_journey_act", args=[mfa_user.pk])
    response = staff_client_mfa.post(url, {"action": "export"})
    assert response.status_code == 302 and "/reason/" in response["Location"]
    give_reason(staff_client_mfa, mfa_user)
    response = staff_client_mfa.post(url, {"action": "export"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert b"Hemoglobin A1c" in body
    entry = AccessLogEntry.objects.get(actor_kind="staff", action="staff:export")
    assert entry.actor == staff_user and entry.reason == REASON
