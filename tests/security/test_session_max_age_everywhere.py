"""Item 9 of issue 12: the 12-hour session limit holds on every signed-in page, not only health pages."""

import time
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import mfa_session

pytestmark = pytest.mark.django_db

PAGES = ["account", "account_email", "account_change_password", "mfa_index", "start", "home"]


@pytest.mark.parametrize("name", PAGES)
def test_a_session_past_twelve_hours_is_signed_out_everywhere(name, mfa_user):
    client = mfa_session(Client(), mfa_user, login_at=time.time() - 13 * 3600, mfa_at=time.time() - 60)
    response = client.get(reverse(name))
    assert response.status_code == 302, response.status_code
    assert urlsplit(response["Location"]).path == reverse("account_login")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("name", ["account", "account_email"])
def test_a_fresh_session_still_opens_the_page(name, mfa_user):
    client = mfa_session(Client(), mfa_user)
    assert client.get(reverse(name)).status_code == 200
