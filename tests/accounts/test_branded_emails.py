"""Every email is branded: the site name, plain text and simple HTML, links from PORTAL_BASE_URL."""

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def portal(settings):
    settings.PORTAL_BASE_URL = "https://homeport.example.org"
    settings.SITE_NAME = "Homeport"


def html_of(message) -> str:
    return dict((kind, body) for body, kind in message.alternatives)["text/html"]


def test_sign_up_confirmation_is_branded(client):
    client.post(
        "/accounts/signup/",
        {"email": "new.person@example.com", "password1": "a-long-Passphrase-42", "password2": "a-long-Passphrase-42"},
    )
    message = mail.outbox[0]
    assert message.subject == "[Homeport] Confirm your email address"
    assert "Hello from" not in message.body and "testserver" not in message.body
    assert "Homeport" in message.body and "https://homeport.example.org/accounts/confirm-email/" in message.body
    html = html_of(message)
    assert 'href="https://homeport.example.org/accounts/confirm-email/' in html
    assert "<html" in html and "Homeport" in html


def test_password_reset_is_branded(client, mfa_user):
    client.post("/accounts/password/reset/", {"email": mfa_user.email})
    message = mail.outbox[0]
    assert message.subject == "[Homeport] Reset your password"
    assert "Hello from" not in message.body
    assert 'href="https://homeport.example.org/accounts/password/reset/key/' in html_of(message)


def test_account_deleted_is_branded(mfa_user, django_capture_on_commit_callbacks):
    from portal import services

    with django_capture_on_commit_callbacks(execute=False):
        deletion = services.account_delete(user_id=mfa_user.pk)
    assert services.account_deletion_notify_send(deletion_id=deletion.pk) is True
    message = mail.outbox[0]
    assert message.subject == "[Homeport] Your account has been deleted"
    assert "Your Homeport account has been deleted" in message.body
    assert "https://homeport.example.org" in message.body
    assert "Your Homeport account has been deleted" in html_of(message)


def test_the_html_frame_speaks_the_messages_language():
    """The footer every message ends with, and the page's declared language, follow the person's
    language: a Spanish message did end in English."""
    from django.utils import translation

    from accounts.mail import email_html_from_text

    with translation.override("es"):
        spanish = email_html_from_text(subject="Hola", text="Hola:\n")
    english = email_html_from_text(subject="Hello", text="Hello,\n")
    assert '<html lang="es">' in spanish
    assert "Este mensaje lo envió Homeport (homeport.example.org)." in spanish
    assert "This message was sent" not in spanish
    assert '<html lang="en">' in english
    assert "This message was sent by Homeport (homeport.example.org)." in english
