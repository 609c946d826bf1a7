"""A PORTAL_BASE_URL that would make share manifest URLs longer than SMART Health Links allow
(128 characters) is refused at start-up, with the length and a hint."""

import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from records.checks import MANIFEST_ID_LENGTH, SHL_URL_LIMIT, share_manifest_url_fits
from records.sharing import manifest_url


def test_the_id_length_the_check_assumes_is_the_one_shares_use():
    assert len(secrets.token_urlsafe(32)) == MANIFEST_ID_LENGTH


def test_the_default_base_url_passes(settings):
    settings.PORTAL_BASE_URL = "http://localhost:8000"
    assert share_manifest_url_fits() == []


def test_a_base_url_at_the_limit_passes_and_one_past_it_fails(settings):
    path = reverse("share:manifest", args=["x" * MANIFEST_ID_LENGTH])
    settings.PORTAL_BASE_URL = "https://" + "h" * (SHL_URL_LIMIT - len(path) - len("https://"))
    assert len(manifest_url("x" * MANIFEST_ID_LENGTH)) == SHL_URL_LIMIT
    assert share_manifest_url_fits() == []
    settings.PORTAL_BASE_URL += "h"
    (error,) = share_manifest_url_fits()
    assert error.id == "records.E001" and f"{SHL_URL_LIMIT + 1} characters" in error.msg


def test_manage_check_refuses_a_base_url_too_long(settings):
    settings.PORTAL_BASE_URL = "https://portal.example.org/" + "p" * 100
    with pytest.raises(SystemCheckError, match=r"records\.E001"):
        call_command("check")
