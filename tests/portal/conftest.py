"""Fixtures for the rights pages: a session that has just reauthenticated, and a consented person."""

import time

import pytest
from django.conf import settings


def mark_reauthenticated(client, *, at: float | None = None):
    """Record, as allauth's reauthenticate view does, that this session confirmed its password just now."""
    session = client.session
    records = list(session.get("account_authentication_methods", []))
    records.append({"method": "password", "at": time.time() if at is None else at, "reauthenticated": True})
    session["account_authentication_methods"] = records
    session.save()
    return client


@pytest.fixture
def reauth():
    return mark_reauthenticated


@pytest.fixture
def consented(mfa_user):
    from accounts.services import consent_record

    return consent_record(user=mfa_user, notice_version=settings.PRIVACY_NOTICE_VERSION, ip="203.0.113.7")


@pytest.fixture
def eager_celery():
    """Run tasks in-process when they are enqueued, so after-commit work happens inside the test."""
    from portal.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def client_mfa_earlier(mfa_user, make_mfa_client):
    """Passed the second factor 10 minutes ago: still inside the health gate's idle limit, but outside
    the reauthentication window, so export and deletion ask to confirm it's you again."""
    return make_mfa_client(mfa_user, mfa_at=time.time() - 600, login_at=time.time() - 600)
