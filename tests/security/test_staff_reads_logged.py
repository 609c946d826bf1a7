"""Every admin page that shows a person's health data asks staff why first, and each opening lands in
that person's access log, which they see as "Homeport support" (issue 11)."""

import time
from typing import cast

import pytest
from django.contrib import admin
from django.db.models import Model
from django.urls import reverse

from accounts.admin import HealthDataAdmin
from accounts.models import AccessLogEntry
from accounts.selectors import STAFF_REASONS_SESSION_KEY
from ias.models import NetworkPatient, WebhookEvent
from records.models import Resource, Snapshot
from tests.ias import conftest as ias_fixtures
from tests.portal.staff_story import REASON, give_reason, person_story

pytestmark = pytest.mark.django_db

network = ias_fixtures.network

HEALTH_MODELS = {NetworkPatient, WebhookEvent, Snapshot, Resource}


def _has_health_data(model) -> bool:
    """Models whose rows hold clinical content, raw network bodies or encrypted personal details."""
    names = {field.name for field in model._meta.get_fields()}
    return (model._meta.app_label == "records" and "user" in names) or any(
        name == "raw" or name.endswith("_encrypted") or name == "counts_by_type" for name in names
    )


def _health_admins() -> dict:
    return {model: model_admin for model, model_admin in admin.site._registry.items() if _has_health_data(model)}


@pytest.fixture
def story(mfa_user, network):
    return person_story(mfa_user, network=network)


def test_every_registered_model_with_health_data_is_behind_the_reason_gate():
    found = _health_admins()
    assert HEALTH_MODELS.issubset(found)
    deletion_receipts = {m for m in found if m._meta.model_name == "accountdeletion"}
    sandbox = {m for m in found if m._meta.app_label == "sandbox"}
    for model, model_admin in found.items():
        if model in deletion_receipts or model in sandbox:
            continue  # no person's data: an erased-address receipt, and the simulated network's own rows
        assert isinstance(model_admin, HealthDataAdmin), model


def test_every_health_data_page_asks_why_then_logs_each_opening(staff_client_mfa, staff_user, mfa_user, story):
    rows = {NetworkPatient: story.link, WebhookEvent: story.event, Snapshot: story.snapshot, Resource: story.resource}
    pages: list[tuple[str, type[Model] | None]] = [
        (reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[rows[model].pk]), model)
        for model in sorted(HEALTH_MODELS, key=lambda m: m._meta.model_name or "")
    ]
    pages.append((reverse("admin:accounts_user_journey", args=[mfa_user.pk]), None))

    for url, _model in pages:
        response = staff_client_mfa.get(url)
        assert response.status_code == 302, url
        assert "/reason/" in response["Location"], url
    assert not AccessLogEntry.objects.filter(actor_kind=AccessLogEntry.ACTOR_STAFF).exists()

    give_reason(staff_client_mfa, mfa_user, details="ticket 99")
    for url, model in pages:
        before = AccessLogEntry.objects.filter(actor_kind=AccessLogEntry.ACTOR_STAFF).count()
        response = staff_client_mfa.get(url)
        assert response.status_code == 200, url
        entry = AccessLogEntry.objects.filter(actor_kind=AccessLogEntry.ACTOR_STAFF).order_by("-pk").first()
        assert entry is not None
        assert AccessLogEntry.objects.filter(actor_kind=AccessLogEntry.ACTOR_STAFF).count() == before + 1, url
        assert (entry.actor, entry.subject, entry.reason) == (staff_user, mfa_user, f"{REASON}: ticket 99")
        if model is not None:
            # Every health model's admin is a HealthDataAdmin (checked by the test above).
            assert entry.action == cast(HealthDataAdmin, admin.site._registry[model]).health_action

    history = staff_client_mfa.get(reverse("admin:accounts_accesslogentry_changelist"), {"q": mfa_user.email})
    assert history.status_code == 200


def test_the_person_sees_every_staff_opening_as_homeport_support(
    staff_client_mfa, client_mfa, staff_user, mfa_user, story
):
    give_reason(staff_client_mfa, mfa_user)
    staff_client_mfa.get(reverse("admin:ias_networkpatient_change", args=[story.link.pk]))
    staff_client_mfa.get(reverse("admin:records_resource_change", args=[story.resource.pk]))
    page = client_mfa.get(reverse("records:access_history")).content.decode()
    assert page.count("Homeport support") == 2
    assert REASON in page
    assert staff_user.email not in page
    assert "The details you gave for your request" in page and "One item in the record" in page


def test_the_reason_is_remembered_for_fifteen_minutes_for_that_person_only(
    staff_client_mfa, mfa_user, other_user, story
):
    give_reason(staff_client_mfa, mfa_user)
    url = reverse("admin:accounts_user_journey", args=[mfa_user.pk])
    assert staff_client_mfa.get(url).status_code == 200
    assert staff_client_mfa.get(reverse("admin:accounts_user_journey", args=[other_user.pk])).status_code == 302

    session = staff_client_mfa.session
    reasons = session[STAFF_REASONS_SESSION_KEY]
    reasons[str(mfa_user.pk)]["at"] = time.time() - 15 * 60 - 1
    session[STAFF_REASONS_SESSION_KEY] = reasons
    session.save()
    assert staff_client_mfa.get(url).status_code == 302


def test_other_needs_words_and_the_next_page_stays_on_this_site(staff_client_mfa, mfa_user):
    url = reverse("admin:accounts_user_access_reason", args=[mfa_user.pk])
    response = staff_client_mfa.post(url, {"choice": "Other (explain below)", "details": "", "next": "/admin/"})
    assert response.status_code == 200 and "Say why in a few words." in response.content.decode()
    response = staff_client_mfa.post(url, {"choice": REASON, "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:accounts_user_change", args=[mfa_user.pk]
    )


def test_people_who_are_not_staff_cannot_give_a_reason(client_mfa, other_user):
    url = reverse("admin:accounts_user_access_reason", args=[other_user.pk])
    assert client_mfa.post(url, {"choice": REASON, "next": "/admin/"}).status_code == 403
