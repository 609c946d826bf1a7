"""Email login with mandatory verification, MFA at login, rate limits, and MFA secrets encrypted at rest."""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail

from accounts.models import User
from tests.helpers import totp_now

pytestmark = pytest.mark.django_db


def test_signup_requires_email_verification(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "new.person@example.com", "password1": "a long passphrase 93", "password2": "a long passphrase 93"},
    )
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    user = User.objects.get(email="new.person@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert "/accounts/confirm-email/" in mail.outbox[0].body
    assert "_auth_user_id" not in client.session


def test_signup_errors_are_shown_next_to_the_field(client):
    response = client.post("/accounts/signup/", {"email": "not-an-email", "password1": "x", "password2": "y"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="field field--invalid"' in html
    assert "Enter a valid email address." in html
    assert html.index("Enter a valid email address.") > html.index('<label for="id_email">')


def test_login_with_mfa_needs_the_code(client, mfa_user, password):
    response = client.post("/accounts/login/", {"login": mfa_user.email, "password": password})
    assert response.status_code == 302
    assert response.url == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(mfa_user.totp_secret)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(mfa_user.pk)
    methods = [r["method"] for r in client.session["account_authentication_methods"]]
    assert methods == ["password", "mfa"]


def test_failed_logins_are_rate_limited(client, mfa_user):
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": mfa_user.email, "password": "wrong password!"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"login": mfa_user.email, "password": "wrong password!"})
    assert b"Too many failed login attempts" in response.content


def test_wrong_mfa_codes_are_rate_limited(client, mfa_user, password):
    client.post("/accounts/login/", {"login": mfa_user.email, "password": password})
    right = totp_now(mfa_user.totp_secret)
    wrong = "123456" if right != "123456" else "654321"
    for _ in range(5):
        client.post("/accounts/2fa/authenticate/", {"code": wrong})
    response = client.post("/accounts/2fa/authenticate/", {"code": right})
    assert response.status_code == 200
    assert b"Too many failed" in response.content
    assert "_auth_user_id" not in client.session


def test_totp_secret_is_encrypted_at_rest(mfa_user):
    from accounts.crypto import decrypt_text

    stored = Authenticator.objects.get(user=mfa_user, type=Authenticator.Type.TOTP).data["secret"]
    assert stored != mfa_user.totp_secret
    assert mfa_user.totp_secret not in stored
    assert decrypt_text(stored) == mfa_user.totp_secret


def test_password_reset_sends_a_link(client, mfa_user):
    response = client.post("/accounts/password/reset/", {"email": mfa_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_enrolling_totp_counts_as_this_sessions_second_factor(client, user, password):
    from allauth.mfa.totp.internal.auth import get_totp_secret  # noqa: F401  (module exists)

    client.post("/accounts/login/", {"login": user.email, "password": password})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    methods = [r["method"] for r in client.session["account_authentication_methods"]]
    assert "mfa" in methods


def test_sensitive_mfa_changes_ask_for_reauthentication_in_an_older_session(make_mfa_client, mfa_user):
    import time

    stale = make_mfa_client(mfa_user, mfa_at=time.time() - 600, login_at=time.time() - 600)
    response = stale.get("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/2fa/reauthenticate/")


def test_a_second_factor_used_moments_ago_counts_as_reauthentication(client_mfa):
    response = client_mfa.get("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 200
