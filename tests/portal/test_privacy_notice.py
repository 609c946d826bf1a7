"""The public Privacy & Security Notice: every section an IAS provider owes, versioned."""

from html import unescape

import pytest
from django.conf import settings
from django.template.loader import get_template
from django.urls import reverse

from portal.selectors import PRIVACY_NOTICES, privacy_notice_get

pytestmark = pytest.mark.django_db

SECTIONS = [
    "What we collect, and why",
    "Who receives your information",
    "How long we keep it",
    "Your rights",
    "Does HIPAA apply?",
    "Requests and contact",
]

PROMISES = [
    "We don't sell your information",
    "Consent, purpose by purpose",
    "Withdraw your consent simply and promptly",
    "Access:",
    "Download, in a machine-readable format",
    "FHIR",
    "Deletion:",
    "Corrections:",
    "contact the organization that reported it",
    "within 30 days",
]


def test_notice_is_public_and_has_every_section(client):
    response = client.get(reverse("privacy"))
    assert response.status_code == 200
    html = unescape(response.content.decode())
    for heading in SECTIONS:
        assert heading in html, heading
    for promise in PROMISES:
        assert promise in html, promise
    assert settings.OPERATOR_CONTACT_EMAIL in html


def test_notice_shows_version_and_effective_date(client):
    notice = privacy_notice_get()
    assert notice is not None
    html = client.get(reverse("privacy")).content.decode()
    assert f"Version {settings.PRIVACY_NOTICE_VERSION}" in html
    assert f'datetime="{notice.effective:%Y-%m-%d}"' in html


def test_configured_version_has_a_published_text():
    notice = privacy_notice_get()
    assert notice is not None, "PRIVACY_NOTICE_VERSION has no entry in portal.selectors.PRIVACY_NOTICES"
    assert notice.version == settings.PRIVACY_NOTICE_VERSION
    for entry in PRIVACY_NOTICES.values():
        get_template(entry.template)


def test_each_version_has_its_own_page(client):
    for version in PRIVACY_NOTICES:
        response = client.get(reverse("privacy_version", args=[version]))
        assert response.status_code == 200
        assert f"Version {version}" in response.content.decode()


def test_unknown_version_is_404(client):
    assert client.get(reverse("privacy_version", args=["1999-01-01"])).status_code == 404


def test_earlier_version_says_it_is_not_current(client, settings):
    version = next(iter(PRIVACY_NOTICES))
    settings.PRIVACY_NOTICE_VERSION = "2099-01-01"
    html = client.get(reverse("privacy_version", args=[version])).content.decode()
    assert "earlier version" in html


def test_notice_refuses_post(client):
    assert client.post(reverse("privacy")).status_code == 405
