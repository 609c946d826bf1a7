"""Item 2 of issue 12: a persistent per-account count of consecutive failures, reset on success.
10 wrong second-factor codes (recovery codes included) or 20 wrong passwords in a row lock
sign-in for that account until a password reset by email; the person is emailed."""

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD, mfa_session
from tests.helpers import totp_now

pytestmark = pytest.mark.django_db

MFA_LIMIT = 10
PASSWORD_LIMIT = 20


def _wrong(user) -> str:
    right = totp_now(user.totp_secret)
    return "123456" if right != "123456" else "654321"


def _signed_in_halfway(user) -> Client:
    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    return client


def _guess(client: Client, url: str, code: str, times: int) -> None:
    for _ in range(times):
        cache.clear()  # allauth's rolling 5-per-5-minutes limit is not what is tested here
        client.post(url, {"code": code})


def _fresh(user) -> User:
    return User.objects.get(pk=user.pk)


def test_ten_wrong_codes_lock_the_second_factor_and_email_the_person(mfa_user, django_capture_on_commit_callbacks):
    client = _signed_in_halfway(mfa_user)
    with django_capture_on_commit_callbacks(execute=True):
        _guess(client, reverse("mfa_authenticate"), _wrong(mfa_user), MFA_LIMIT)
    assert _fresh(mfa_user).mfa_locked_at is not None
    cache.clear()
    response = client.post(reverse("mfa_authenticate"), {"code": totp_now(mfa_user.totp_secret)})
    assert "_auth_user_id" not in client.session
    assert b"locked" in response.content
    assert [m.to for m in mail.outbox] == [[mfa_user.email]]
    assert "reset" in mail.outbox[0].body.lower()


def test_the_count_persists_and_resets_on_success(mfa_user):
    client = _signed_in_halfway(mfa_user)
    _guess(client, reverse("mfa_authenticate"), _wrong(mfa_user), MFA_LIMIT - 1)
    assert _fresh(mfa_user).mfa_failures_in_a_row == MFA_LIMIT - 1
    cache.clear()
    client.post(reverse("mfa_authenticate"), {"code": totp_now(mfa_user.totp_secret)})
    assert client.session["_auth_user_id"] == str(mfa_user.pk)
    user = _fresh(mfa_user)
    assert (user.mfa_failures_in_a_row, user.mfa_locked_at) == (0, None)


def test_recovery_codes_count_as_second_factor_attempts(mfa_user):
    codes = RecoveryCodes.activate(mfa_user).get_unused_codes()
    client = _signed_in_halfway(mfa_user)
    _guess(client, reverse("mfa_authenticate"), "zzzz-zzzz", MFA_LIMIT)
    cache.clear()
    client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert "_auth_user_id" not in client.session
    assert _fresh(mfa_user).mfa_locked_at is not None


def test_the_reauthentication_form_counts_too(mfa_user):
    client = mfa_session(Client(), mfa_user, mfa_at=time.time() - 31 * 60, login_at=time.time() - 40 * 60)
    _guess(client, reverse("mfa_reauthenticate"), _wrong(mfa_user), MFA_LIMIT)
    assert _fresh(mfa_user).mfa_locked_at is not None


def test_twenty_wrong_passwords_lock_sign_in(mfa_user, django_capture_on_commit_callbacks):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(PASSWORD_LIMIT):
            cache.clear()
            client.post(reverse("account_login"), {"login": mfa_user.email, "password": "not the password!"})
    assert _fresh(mfa_user).password_failures_in_a_row == PASSWORD_LIMIT
    cache.clear()
    response = client.post(reverse("account_login"), {"login": mfa_user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert b"locked" in response.content
    assert [m.to for m in mail.outbox] == [[mfa_user.email]]


def test_a_right_password_resets_the_password_count(mfa_user):
    client = Client()
    for _ in range(3):
        client.post(reverse("account_login"), {"login": mfa_user.email, "password": "not the password!"})
    assert _fresh(mfa_user).password_failures_in_a_row == 3
    client.post(reverse("account_login"), {"login": mfa_user.email, "password": PASSWORD})
    assert _fresh(mfa_user).password_failures_in_a_row == 0


def test_a_password_reset_by_email_clears_the_lock(mfa_user):
    User.objects.filter(pk=mfa_user.pk).update(
        mfa_locked_at="2026-01-01T00:00:00Z", mfa_failures_in_a_row=MFA_LIMIT, password_failures_in_a_row=3
    )
    client = Client()
    client.post(reverse("account_reset_password"), {"email": mfa_user.email})
    link_match = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", str(mail.outbox[-1].body))
    assert link_match is not None
    link = link_match.group(1)
    form_url = client.get(link)["Location"]
    new = "a brand new passphrase 77"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    user = _fresh(mfa_user)
    assert (user.mfa_locked_at, user.mfa_failures_in_a_row, user.password_failures_in_a_row) == (None, 0, 0)
    assert user.check_password(new)


def test_locked_second_factor_survives_a_password_change(mfa_user):
    """The person who knows the password must not unlock the second factor by changing it."""
    User.objects.filter(pk=mfa_user.pk).update(mfa_locked_at="2026-01-01T00:00:00Z")
    client = mfa_session(Client(), mfa_user)
    new = "another new passphrase 88"
    client.post(reverse("account_change_password"), {"oldpassword": PASSWORD, "password1": new, "password2": new})
    assert _fresh(mfa_user).mfa_locked_at is not None
    assert Authenticator.objects.filter(user=mfa_user).exists()
