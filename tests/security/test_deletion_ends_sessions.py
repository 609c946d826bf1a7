"""Item 10 of issue 12: deleting an account ends every session of the person (with the record
search words they held), and expired sessions are purged on a schedule."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import mfa_session

pytestmark = pytest.mark.django_db

WORDS = "hiv-test-words"


def _stored_sessions() -> list[dict]:
    return [session.get_decoded() for session in Session.objects.all()]


def test_deletion_ends_the_persons_other_sessions_and_their_search_words(mfa_user, other_user):
    from portal.services import account_delete

    laptop = mfa_session(Client(), mfa_user)
    phone = mfa_session(Client(), mfa_user)
    bystander = mfa_session(Client(), other_user)
    phone.post(reverse("records:category", args=["labs"]), {"q": WORDS})
    assert any(WORDS in str(data) for data in _stored_sessions())

    account_delete(user_id=mfa_user.pk)

    stored = _stored_sessions()
    assert not any(WORDS in str(data) for data in stored)
    assert not any(data.get("_auth_user_id") == str(mfa_user.pk) for data in stored)
    assert not Session.objects.filter(session_key=phone.session.session_key).exists()
    assert not Session.objects.filter(session_key=laptop.session.session_key).exists()
    assert Session.objects.filter(session_key=bystander.session.session_key).exists()


def test_expired_sessions_are_purged_by_a_scheduled_task(mfa_user):
    from accounts.tasks import sessions_clear_expired

    old = mfa_session(Client(), mfa_user)
    Session.objects.filter(session_key=old.session.session_key).update(expire_date=timezone.now() - timedelta(days=1))
    live = mfa_session(Client(), mfa_user)
    sessions_clear_expired()
    assert not Session.objects.filter(session_key=old.session.session_key).exists()
    assert Session.objects.filter(session_key=live.session.session_key).exists()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert sessions_clear_expired.name in scheduled
