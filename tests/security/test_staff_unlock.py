"""Staff can unlock a locked account from the admin (the locked email promises it); the person is
told by email, accounts that were not locked are left alone, and only staff can do it."""

import pytest
from django.contrib.admin import helpers
from django.core import mail
from django.urls import reverse

from accounts.models import EmailSent, User

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_user_changelist")


def _lock(user: User) -> None:
    User.objects.filter(pk=user.pk).update(
        mfa_locked_at="2026-01-01T00:00:00Z", mfa_failures_in_a_row=10, password_failures_in_a_row=4
    )


def _unlock(client, *users: User):
    return client.post(
        CHANGELIST,
        {"action": "unlock_sign_in", helpers.ACTION_CHECKBOX_NAME: [u.pk for u in users]},
        follow=True,
    )


def test_staff_unlock_a_locked_account_and_the_person_is_emailed(
    staff_client_mfa, mfa_user, django_capture_on_commit_callbacks
):
    _lock(mfa_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _unlock(staff_client_mfa, mfa_user)
    assert response.status_code == 200
    assert "1 account unlocked" in response.content.decode()
    fresh = User.objects.get(pk=mfa_user.pk)
    assert (fresh.mfa_locked_at, fresh.mfa_failures_in_a_row, fresh.password_failures_in_a_row) == (None, 0, 0)
    sent = [m for m in mail.outbox if m.to == [mfa_user.email]]
    assert len(sent) == 1 and "unlocked" in sent[0].subject.lower()
    assert "/accounts/password/reset/" in sent[0].body
    assert EmailSent.objects.filter(user=mfa_user, template_prefix="accounts/email/sign_in_unlocked").count() == 1


def test_an_account_that_was_not_locked_is_left_alone(
    staff_client_mfa, mfa_user, make_mfa_client, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=mfa_user.pk).update(password_failures_in_a_row=3)
    with django_capture_on_commit_callbacks(execute=True):
        response = _unlock(staff_client_mfa, mfa_user)
    assert "0 accounts unlocked" in response.content.decode()
    assert User.objects.get(pk=mfa_user.pk).password_failures_in_a_row == 3
    assert mail.outbox == []


def test_the_locked_filter_lists_only_locked_accounts(staff_client_mfa, mfa_user, make_mfa_client):
    unlocked = User.objects.get(pk=make_mfa_client().session["_auth_user_id"])
    _lock(mfa_user)
    page = staff_client_mfa.get(CHANGELIST + "?sign_in=locked").content.decode()
    assert reverse("admin:accounts_user_change", args=[mfa_user.pk]) in page
    assert reverse("admin:accounts_user_change", args=[unlocked.pk]) not in page
    everyone = staff_client_mfa.get(CHANGELIST).content.decode()
    assert reverse("admin:accounts_user_change", args=[unlocked.pk]) in everyone


def test_a_person_who_is_not_staff_cannot_unlock(make_mfa_client, mfa_user):
    other = make_mfa_client()
    _lock(mfa_user)
    response = other.post(CHANGELIST, {"action": "unlock_sign_in", helpers.ACTION_CHECKBOX_NAME: [mfa_user.pk]})
    assert response.status_code in (302, 403)
    assert User.objects.get(pk=mfa_user.pk).mfa_locked_at is not None


def test_the_unlock_email_is_in_the_persons_language(staff_client_mfa, mfa_user, django_capture_on_commit_callbacks):
    User.objects.filter(pk=mfa_user.pk).update(language="es")
    _lock(mfa_user)
    with django_capture_on_commit_callbacks(execute=True):
        _unlock(staff_client_mfa, mfa_user)
    (sent,) = mail.outbox
    assert sent.subject.endswith("El equipo de ayuda desbloqueó el inicio de sesión")
    assert "restablezca su contraseña" in sent.body
