"""The gate notes the person's activity for the idle limit without saving the session on every page:
a note younger than a minute is kept, an older one is renewed."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.decorators import ACTIVITY_WRITE_EVERY_SECONDS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls_gate")]


def _session_writes(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/test-gated/").status_code == 200
    return sum(1 for q in captured if "django_session" in q["sql"] and not q["sql"].startswith("SELECT"))


def test_a_fresh_note_is_kept_and_the_session_not_saved(client_mfa):
    assert client_mfa.get("/test-gated/").status_code == 200
    noted = client_mfa.session["health_last_activity"]
    assert _session_writes(client_mfa) == 0
    assert client_mfa.session["health_last_activity"] == noted


def test_a_stale_note_is_renewed(client_mfa):
    session = client_mfa.session
    session["health_last_activity"] = time.time() - ACTIVITY_WRITE_EVERY_SECONDS - 5
    session.save()
    assert _session_writes(client_mfa) == 1
    assert time.time() - client_mfa.session["health_last_activity"] < 5
