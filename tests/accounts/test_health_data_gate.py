"""The gate in front of every health-data page (NIST SP 800-63B AAL2 for Homeport's own sessions)."""

import time

import pytest
from django.test import Client

from tests.helpers import totp_now

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls_gate")]


def test_anonymous_goes_to_login(client):
    response = client.get("/test-gated/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/test-gated/")


def test_no_second_factor_goes_to_mfa_setup(client, user):
    client.force_login(user)
    response = client.get("/test-gated/")
    assert response.status_code == 302
    assert response.url == "/accounts/2fa/totp/activate/?next=%2Ftest-gated%2F"


def test_factor_not_used_this_session_goes_to_mfa_prompt(client, mfa_user):
    client.force_login(mfa_user)
    response = client.get("/test-gated/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/2fa/reauthenticate/?next=")


def test_fresh_second_factor_sees_health_data_uncached(client_mfa):
    response = client_mfa.get("/test-gated/")
    assert response.status_code == 200
    assert response.content == b"health data"
    assert "no-store" in response["Cache-Control"]


def test_idle_for_more_than_30_minutes_asks_for_the_factor_again(make_mfa_client, mfa_user):
    client = make_mfa_client(mfa_user, mfa_at=time.time() - 31 * 60, login_at=time.time() - 31 * 60)
    response = client.get("/test-gated/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/2fa/reauthenticate/")


def test_activity_keeps_the_session_fresh(make_mfa_client, mfa_user):
    client = make_mfa_client(mfa_user, mfa_at=time.time() - 29 * 60, login_at=time.time() - 29 * 60)
    assert client.get("/test-gated/").status_code == 200
    session = client.session
    assert time.time() - session["health_last_activity"] < 5


def test_polling_does_not_count_as_activity(make_mfa_client, mfa_user):
    client = make_mfa_client(mfa_user)
    assert client.get("/test-gated-poll/").status_code == 200
    assert "health_last_activity" not in client.session


def test_after_12_hours_the_person_is_signed_out(make_mfa_client, mfa_user):
    long_ago = time.time() - 12 * 3600 - 60
    client = make_mfa_client(mfa_user, mfa_at=time.time() - 60, login_at=long_ago)
    response = client.get("/test-gated/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_mfa_prompt_with_a_real_code_opens_the_gate(mfa_user):
    client = Client()
    client.force_login(mfa_user)
    response = client.get("/test-gated/")
    prompt = response["Location"]
    assert client.get(prompt).status_code == 200
    response = client.post(prompt, {"code": totp_now(mfa_user.totp_secret)})
    assert response.status_code == 302
    assert response["Location"] == "/test-gated/"
    assert client.get("/test-gated/").status_code == 200


def test_a_wrong_code_keeps_the_gate_shut(mfa_user):
    client = Client()
    client.force_login(mfa_user)
    prompt = client.get("/test-gated/")["Location"]
    response = client.post(prompt, {"code": "000000" if totp_now(mfa_user.totp_secret) != "000000" else "111111"})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content
    assert client.get("/test-gated/").status_code == 302
