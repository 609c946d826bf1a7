"""Item 1 of issue 12: for a person with a second factor, only a second-factor re-check satisfies
MFA pages. The password re-check is not offered to them, recovery codes are shown once (right
after they are generated), and enrolling another factor does not count as using one."""

import time
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, _make_user, mfa_session
from tests.helpers import totp_now

pytestmark = pytest.mark.django_db

IDLE = {"mfa_at": time.time() - 31 * 60, "login_at": time.time() - 40 * 60}


def _path(response) -> str:
    assert response.status_code == 302, response.status_code
    return urlsplit(response["Location"]).path


def _codes(user) -> list[str]:
    return RecoveryCodes(
        Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    ).get_unused_codes()


@pytest.fixture
def with_codes(mfa_user):
    RecoveryCodes.activate(mfa_user)
    return mfa_user


def test_the_password_recheck_sends_a_person_with_a_factor_to_the_second_factor(with_codes):
    client = mfa_session(Client(), with_codes, **IDLE)
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert _path(response) == reverse("mfa_reauthenticate")
    records = client.session["account_authentication_methods"]
    assert not any(r.get("method") == "password" and r.get("reauthenticated") for r in records)


def test_the_idle_gate_cannot_be_met_with_the_password_and_a_recovery_code_page(with_codes):
    client = mfa_session(Client(), with_codes, **IDLE)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page = client.get(reverse("mfa_view_recovery_codes"), follow=True)
    shown = page.content.decode()
    assert not any(code in shown for code in _codes(with_codes))
    assert _path(client.get(reverse("records:summary"))) == reverse("mfa_reauthenticate")


def test_recovery_codes_are_shown_once_after_generation(with_codes):
    client = mfa_session(Client(), with_codes)
    assert client.post(reverse("mfa_generate_recovery_codes")).status_code == 302
    codes = _codes(with_codes)
    first = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    assert all(code in first for code in codes)
    again = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    assert not any(code in again for code in codes)
    assert client.get(reverse("mfa_download_recovery_codes")).status_code in (403, 404)


def test_enrolling_another_factor_after_a_password_check_is_not_a_second_factor(db):
    user = _make_user("pia.passkey@example.com")
    Authenticator.objects.create(user=user, type=Authenticator.Type.WEBAUTHN, data={"name": "key"})
    client = mfa_session(Client(), user, mfa_at=False)
    session = client.session
    session["account_authentication_methods"].append(
        {"method": "password", "at": time.time(), "reauthenticated": True, "email": user.email}
    )
    session.save()
    page = client.get(reverse("mfa_activate_totp"))
    if page.status_code == 200:
        secret = page.context["form"].secret
        client.post(reverse("mfa_activate_totp"), {"code": totp_now(secret)})
    assert _path(client.get(reverse("records:summary"))) == reverse("mfa_reauthenticate")


def test_enrolling_the_first_factor_still_opens_the_record(db):
    user = _make_user("fay.first@example.com")
    client = Client()
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    assert client.post(reverse("mfa_activate_totp"), {"code": totp_now(secret)}).status_code == 302
    assert client.get(reverse("records:summary")).status_code == 200
