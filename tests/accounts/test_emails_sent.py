"""Every email allauth sends is noted for staff (which message, to whom, when), without its links or codes."""

import pytest
from django.core import mail

from accounts.mail import email_context_keep, email_send_record
from accounts.models import EmailSent, User

pytestmark = pytest.mark.django_db


def test_the_sign_up_confirmation_is_noted_without_its_link(client):
    client.post(
        "/accounts/signup/",
        {"email": "new.person@example.com", "password1": "a long passphrase 93", "password2": "a long passphrase 93"},
    )
    assert len(mail.outbox) == 1
    sent = EmailSent.objects.get()
    assert sent.user == User.objects.get(email="new.person@example.com")
    assert sent.to_email == "new.person@example.com"
    assert sent.template_prefix.startswith("account/email/email_confirmation")
    assert sent.subject == mail.outbox[0].subject
    assert "/accounts/confirm-email/" not in str(sent.context)


def test_a_password_reset_is_noted_and_keeps_no_key(client, mfa_user):
    client.post("/accounts/password/reset/", {"email": mfa_user.email})
    sent = EmailSent.objects.get(user=mfa_user)
    assert sent.template_prefix == "account/email/password_reset_key"
    assert "key" not in str(sent.context).lower() and "http" not in str(sent.context)


def test_the_context_kept_is_plain_values_only():
    kept = email_context_keep(
        {
            "first_name": "Pat",
            "count": 3,
            "records_url": "https://portal.test/records/",
            "note": "see https://portal.test/x",
            "key": "abc",
            "code": "123456",
            "user": object(),
        }
    )
    assert kept == {"first_name": "Pat", "count": 3}


def test_other_senders_note_an_email_with_one_call_and_keep_its_page_link(mfa_user):
    sent = email_send_record(
        to_email=mfa_user.email,
        template_prefix="ias/email/records_ready",
        subject="Ready",
        context={"records_url": "https://portal.test/records/", "key": "k"},
    )
    assert sent.user == mfa_user and sent.sent_at is not None
    assert sent.context == {"records_url": "https://portal.test/records/"}


def test_homeports_own_notices_are_noted_and_staff_can_send_them_again(mfa_user, staff_user, rf):
    from accounts.mail import branded_email_send, email_resend

    branded_email_send(
        to=mfa_user.email,
        subject="Your records are ready",
        template="ias/email/records_ready",
        context={"records_url": "http://localhost:8000/records/", "account_url": "http://localhost:8000/account/"},
    )
    sent = EmailSent.objects.get(user=mfa_user)
    assert sent.template_prefix == "ias/email/records_ready"
    assert sent.context["records_url"] == "http://localhost:8000/records/"
    request = rf.post("/admin/")
    request.user = staff_user
    again = email_resend(email_id=sent.pk, request=request)
    assert again is not None and again.resent_by == staff_user
    assert len(mail.outbox) == 2
    assert "http://localhost:8000/records/" in mail.outbox[1].body


def test_the_lock_notice_is_branded_and_noted(mfa_user, settings, django_capture_on_commit_callbacks):
    from accounts.services import mfa_failure_record

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(settings.MFA_FAILURE_LIMIT):
            mfa_failure_record(user_id=mfa_user.pk)
    notice = EmailSent.objects.get(user=mfa_user, template_prefix="accounts/email/sign_in_locked")
    assert notice.subject == "Sign-in locked after too many wrong attempts"
    assert mail.outbox[-1].body.count(settings.PORTAL_BASE_URL) >= 1
