"""A person never sees a traceback: a busy database is a 503 "try again" page, any other error a
plain 500 page, in DEBUG too (staff still get Django's debug page there)."""

import pytest
from django.db import OperationalError
from django.test import Client

from records import selectors


def _locked(**kwargs):
    raise OperationalError("database is locked")


def _broken(**kwargs):
    raise RuntimeError("something internal")


@pytest.mark.parametrize("debug", [False, True])
def test_a_locked_database_answers_503_with_retry_after(client_mfa, settings, monkeypatch, debug):
    settings.DEBUG = debug
    monkeypatch.setattr(selectors, "summary_for", _locked)
    response = client_mfa.get("/records/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "We are busy for a moment" in body
    assert "try again" in body
    assert "Traceback" not in body and "database is locked" not in body


def test_an_error_in_debug_shows_the_friendly_page_to_a_person(client_mfa, settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(selectors, "summary_for", _broken)
    response = client_mfa.get("/records/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert settings.OPERATOR_CONTACT_EMAIL in body
    assert "Traceback" not in body and "something internal" not in body


def test_staff_still_get_the_debug_page_in_debug(staff_client_mfa, settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(selectors, "summary_for", _broken)
    staff_client_mfa.raise_request_exception = False
    response = staff_client_mfa.get("/records/")
    assert response.status_code == 500
    assert "something internal" in response.content.decode()


def test_without_debug_the_500_page_is_plain(mfa_user, make_mfa_client, monkeypatch):
    monkeypatch.setattr(selectors, "summary_for", _broken)
    client: Client = make_mfa_client(mfa_user)
    client.raise_request_exception = False
    response = client.get("/records/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "Traceback" not in body and "something internal" not in body


def test_a_locked_database_outside_the_view_in_debug_shows_no_traceback(client_mfa, settings, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    def locked_save(self, must_create=False):
        raise OperationalError("database is locked")

    settings.DEBUG = True
    client_mfa.raise_request_exception = False
    session = client_mfa.session
    session["touched"] = True
    session.save()
    monkeypatch.setattr(SessionStore, "save", locked_save)
    response = client_mfa.get("/records/", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    body = response.content.decode()
    assert "We are busy for a moment" in body
    assert "Traceback" not in body and "database is locked" not in body
