"""`manage.py staff_create`: a staff account that signs in without an email round trip, enrols a
second factor, and lands in the admin."""

import re
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import User
from tests.helpers import totp_now

pytestmark = pytest.mark.django_db


def _create(*args: str) -> str:
    out = StringIO()
    call_command("staff_create", *args, stdout=out)
    return out.getvalue()


def test_a_new_staff_member_signs_in_enrols_a_factor_and_lands_in_the_admin(client):
    output = _create("--email", "New.Staff@Example.com")
    password_match = re.search(r"Password \(shown once, write it down\): (\S+)", output)
    assert password_match is not None
    password = password_match.group(1)
    user = User.objects.get(email="new.staff@example.com")
    assert user.is_staff and user.is_superuser and user.check_password(password)
    assert EmailAddress.objects.get(user=user).verified

    response = client.post("/accounts/login/", {"login": "new.staff@example.com", "password": password})
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
    assert mail.outbox == []  # no "verify your email address" step

    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_now(secret)})
    assert response.status_code == 302
    codes_page = client.get(response.url)
    assert f'href="{reverse("admin:index")}"' in codes_page.content.decode()
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_staff_member_with_a_factor_lands_in_the_admin_after_sign_in(client, staff_user, password):
    client.post("/accounts/login/", {"login": staff_user.email, "password": password})
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_now(staff_user.totp_secret)})
    assert response.status_code == 302 and response.url == reverse("admin:index")


def test_a_chosen_password_and_limited_rights():
    output = _create("--email", "helper@example.com", "--password", "a chosen long passphrase 7", "--limited")
    assert "Password" not in output
    user = User.objects.get(email="helper@example.com")
    assert user.is_staff and not user.is_superuser and user.check_password("a chosen long passphrase 7")


def test_an_existing_address_is_refused(staff_user):
    with pytest.raises(CommandError, match="already has an account"):
        _create("--email", staff_user.email)
