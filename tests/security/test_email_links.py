"""Issue 12, item 12: every link in every email is built from PORTAL_BASE_URL, never the Host header."""

import re

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture
def portal(settings):
    settings.PORTAL_BASE_URL = "https://homeport.example.org"
    # The attacker's host must get past ALLOWED_HOSTS for the attack to mean anything.
    settings.ALLOWED_HOSTS = ["localhost", "testserver", "127.0.0.1"]
    return settings.PORTAL_BASE_URL


def links_in(message) -> list[str]:
    bodies = [message.body] + [content for content, _type in getattr(message, "alternatives", [])]
    return [link for body in bodies for link in LINK.findall(body)]


def test_password_reset_link_ignores_a_forged_host_header(client, mfa_user, portal):
    response = client.post("/accounts/password/reset/", {"email": mfa_user.email}, HTTP_HOST="localhost:9999")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    links = links_in(mail.outbox[0])
    assert any("/accounts/password/reset/key/" in link for link in links)
    assert all(link.startswith(portal + "/") or link == portal for link in links), links
    assert "9999" not in mail.outbox[0].body


def test_password_reset_link_ignores_a_forwarded_host(client, mfa_user, portal, settings):
    settings.USE_X_FORWARDED_HOST = True
    client.post("/accounts/password/reset/", {"email": mfa_user.email}, HTTP_X_FORWARDED_HOST="localhost:9999")
    links = links_in(mail.outbox[0])
    assert links and all(link.startswith(portal) for link in links), links


def test_sign_up_confirmation_link_ignores_a_forged_host_header(client, portal):
    response = client.post(
        "/accounts/signup/",
        {"email": "new.person@example.com", "password1": "a-long-Passphrase-42", "password2": "a-long-Passphrase-42"},
        HTTP_HOST="localhost:9999",
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    links = links_in(mail.outbox[0])
    assert any("/accounts/confirm-email/" in link for link in links), links
    assert all(link.startswith(portal) for link in links), links


def test_unknown_address_reset_message_links_to_the_portal_too(client, portal):
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, HTTP_HOST="localhost:9999")
    for message in mail.outbox:  # allauth may tell an unknown address that it has no account
        assert all(link.startswith(portal) for link in links_in(message)), links_in(message)
