"""The account page shows consent and its history; revoking is one confirmed POST and stops queries."""

from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Consent
from accounts.selectors import consent_current
from accounts.services import access_log_record, consent_record

pytestmark = pytest.mark.django_db


def test_account_needs_login(client):
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_account_without_consent_says_not_given(client_mfa):
    html = client_mfa.get(reverse("account")).content.decode()
    assert "Not given" in html
    assert reverse("account_consent_revoke") not in html
    assert "You have not given any consent yet." in html


def test_account_shows_current_consent_with_version_and_time(client_mfa, consented):
    html = unescape(client_mfa.get(reverse("account")).content.decode())
    assert "Given" in html
    assert f"version {settings.PRIVACY_NOTICE_VERSION} of our privacy notice" in html
    assert timezone.localtime(consented.given_at).strftime("%Y-%m-%dT%H:%M") in html
    assert "203.0.113.7" in html
    assert reverse("account_consent_revoke") in html


def test_new_notice_version_asks_again(client_mfa, mfa_user, consented, settings):
    assert consent_current(user=mfa_user) == consented
    settings.PRIVACY_NOTICE_VERSION = "2099-01-01"
    assert consent_current(user=mfa_user) is None
    html = client_mfa.get(reverse("account")).content.decode()
    assert "Needs renewing" in html
    assert consented.notice_version in html
    # Consenting under the new version supersedes the old consent.
    fresh = consent_record(user=mfa_user, notice_version="2099-01-01", ip="198.51.100.1")
    assert consent_current(user=mfa_user) == fresh
    consented.refresh_from_db()
    assert consented.revoked_at is not None


def test_consent_history_lists_every_consent(client_mfa, mfa_user):
    first = consent_record(user=mfa_user, notice_version="2025-01-01", ip="198.51.100.2")
    Consent.objects.filter(pk=first.pk).update(revoked_at=timezone.now(), revoked_ip="198.51.100.3")
    consent_record(user=mfa_user, notice_version=settings.PRIVACY_NOTICE_VERSION, ip="198.51.100.4")
    html = client_mfa.get(reverse("account")).content.decode()
    for needle in ["2025-01-01", "198.51.100.2", "198.51.100.3", "198.51.100.4", "active"]:
        assert needle in html


def test_account_shows_access_history_of_own_record_only(client_mfa, mfa_user, other_user, rf):
    request = rf.get("/records/", REMOTE_ADDR="192.0.2.10")
    request.user = mfa_user
    access_log_record(request=request, subject=mfa_user, action="view", target="records:summary")
    request.user = other_user
    access_log_record(request=request, subject=other_user, action="view", target="records:other-person")
    html = client_mfa.get(reverse("account")).content.decode()
    assert "records:summary" in html
    assert "192.0.2.10" in html
    assert "records:other-person" not in html


def test_revoke_page_asks_for_confirmation(client_mfa, consented):
    response = client_mfa.get(reverse("account_consent_revoke"))
    assert response.status_code == 200
    assert b"Withdraw my consent" in response.content
    response = client_mfa.post(reverse("account_consent_revoke"), {})
    assert response.status_code == 200
    assert b"Tick the box" in response.content
    consented.refresh_from_db()
    assert consented.revoked_at is None


def test_revoke_records_time_and_ip_and_stops_consent(client_mfa, mfa_user, consented):
    response = client_mfa.post(reverse("account_consent_revoke"), {"confirm": "on"}, REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 302
    assert response["Location"] == reverse("account")
    consented.refresh_from_db()
    assert consented.revoked_at is not None
    assert consented.revoked_ip == "192.0.2.99"
    assert consent_current(user=mfa_user) is None
    html = client_mfa.get(reverse("account")).content.decode()
    assert "Your consent is withdrawn" in html
    assert "Not given" in html


def test_revoke_without_consent_is_harmless(client_mfa):
    response = client_mfa.post(reverse("account_consent_revoke"), {"confirm": "on"}, follow=True)
    assert b"no active consent" in response.content


def test_revoke_needs_login(client):
    response = client.post(reverse("account_consent_revoke"), {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_after_revocation_no_query_can_start(client_mfa, mfa_user, consented):
    """The journey refuses to start a network query, and sends the person back to consent."""
    from ias.errors import JourneyError
    from ias.network import SourceChoice
    from ias.queries import network_query_start
    from ias.selectors import journey_next_url

    client_mfa.post(reverse("account_consent_revoke"), {"confirm": "on"})
    with pytest.raises(JourneyError):
        network_query_start(user=mfa_user, sources=SourceChoice())
    assert journey_next_url(user=mfa_user) == reverse("ias:consent")
    response = client_mfa.get(reverse("ias:demographics"))
    assert response.status_code == 302
    assert response["Location"] == reverse("ias:consent")
