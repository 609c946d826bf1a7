"""Writes about a person's account: consent given and revoked, record access logged (by the person
or by staff, with the reason), searchable name tokens, the emails sent, and sign-in failures counted
with the account locked after too many in a row."""

import logging
import time
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from accounts.http import client_ip
from accounts.models import AccessLogEntry, Consent, EmailSent, PersonNameToken, User
from accounts.selectors import STAFF_REASONS_SESSION_KEY, name_token_digest, name_tokens


@transaction.atomic
def consent_record(*, user: User, notice_version: str, purpose: str = Consent.PURPOSE_IAS, ip: str | None) -> Consent:
    """Record express consent; any older active consent for the same purpose is superseded."""
    Consent.objects.filter(user=user, purpose=purpose, revoked_at__isnull=True).exclude(
        notice_version=notice_version
    ).update(revoked_at=timezone.now(), revoked_ip=ip)
    return Consent.objects.create(user=user, purpose=purpose, notice_version=notice_version, given_ip=ip)


@transaction.atomic
def consent_revoke(*, user: User, purpose: str = Consent.PURPOSE_IAS, ip: str | None) -> int:
    """Revoke every active consent for the purpose; returns how many were revoked."""
    return Consent.objects.filter(user=user, purpose=purpose, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_ip=ip
    )


def access_log_record(*, request, subject: User, action: str, target: str = "") -> AccessLogEntry:
    """Log one view or download of `subject`'s record by the signed-in person."""
    actor = request.user if request.user.is_authenticated else None
    return AccessLogEntry.objects.create(
        actor=actor,
        subject=subject,
        action=action[:64],
        target=target[:200],
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )


# --- staff access ----------------------------------------------------------------------------------


def staff_reason_remember(*, request: HttpRequest, subject_id: int, reason: str) -> None:
    """Keep the reason a staff member gave for opening this person's data, for STAFF_REASON_TTL."""
    reasons = dict(request.session.get(STAFF_REASONS_SESSION_KEY) or {})
    reasons[str(subject_id)] = {"reason": reason.strip()[:300], "at": time.time()}
    request.session[STAFF_REASONS_SESSION_KEY] = reasons


def staff_access_record(
    *, request: HttpRequest, subject: User, action: str, target: str = "", reason: str
) -> AccessLogEntry:
    """Log one staff read of `subject`'s health data, with the reason given; the person sees it as
    "Homeport support" in their access history."""
    return AccessLogEntry.objects.create(
        actor=request.user,
        actor_kind=AccessLogEntry.ACTOR_STAFF,
        subject=subject,
        action=action[:64],
        target=target[:200],
        reason=reason[:300],
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )


# --- names, searchable without being stored in clear ------------------------------------------------


@transaction.atomic
def person_name_index(*, user: User, names: Iterable[str]) -> int:
    """Replace the person's searchable name tokens with keyed hashes of `names`; returns how many."""
    digests = {name_token_digest(token) for name in names for token in name_tokens(name)}
    PersonNameToken.objects.filter(user=user).delete()
    PersonNameToken.objects.bulk_create([PersonNameToken(user=user, digest=digest) for digest in sorted(digests)])
    return len(digests)


# --- emails sent ------------------------------------------------------------------------------------

_SECRET_CONTEXT_WORDS = ("key", "code", "token", "password", "secret")
_LINK_CONTEXT_WORDS = ("url", "link")


def email_context_keep(context: dict[str, Any], *, keep_links: bool = False) -> dict[str, Any]:
    """The plain values of an email's context that may be stored to send it again: never keys, codes
    or objects; links only for Homeport's own notices (`keep_links`), whose links lead to pages behind
    sign-in, never for allauth's, whose links carry secrets."""

    def allowed(name: str, value: Any) -> bool:
        lowered = name.lower()
        if not isinstance(value, str | int | float | bool) or any(word in lowered for word in _SECRET_CONTEXT_WORDS):
            return False
        is_link = any(word in lowered for word in _LINK_CONTEXT_WORDS) or (isinstance(value, str) and "://" in value)
        return keep_links or not is_link

    return {str(name): value for name, value in context.items() if allowed(str(name), value)}


def email_send_record(
    *,
    to_email: str,
    template_prefix: str,
    subject: str = "",
    user: User | None = None,
    context: dict[str, Any] | None = None,
    resent_by: User | None = None,
) -> EmailSent:
    """Note one email that was sent (call it after sending). allauth's adapter calls it for every
    email it sends; code that sends mail another way calls it itself."""
    if user is None:
        user = User.objects.filter(email__iexact=to_email).first()
    return EmailSent.objects.create(
        user=user,
        to_email=to_email,
        template_prefix=template_prefix[:120],
        subject=subject[:300],
        context=email_context_keep(context or {}, keep_links=not template_prefix.startswith("account/")),
        resent_by=resent_by,
    )


EMAIL_CONFIRMATION_PREFIX = "account/email/email_confirmation"
EMAILS_NOT_RESENT = (
    "account/email/password_reset",
    "account/email/login_code",
    "account/email/unknown_account",
    "account/email/account_already_exists",
)


def email_resend(*, email_id: int, request: HttpRequest) -> EmailSent | None:
    """Staff action: send one email again to the person. A confirmation gets a fresh link; a message
    carrying a secret link (password reset) is never resent by staff. Returns the new row, or None."""
    from allauth.account.adapter import get_adapter
    from allauth.account.models import EmailAddress

    sent = EmailSent.objects.select_related("user").get(pk=email_id)
    if sent.user is None or sent.template_prefix.startswith(EMAILS_NOT_RESENT):
        return None
    started = timezone.now()
    if sent.template_prefix.startswith(EMAIL_CONFIRMATION_PREFIX):
        address = EmailAddress.objects.filter(user=sent.user, email__iexact=sent.to_email).first()
        if address is None or address.verified:
            return None
        address.send_confirmation(request)
    else:
        get_adapter(request).send_mail(sent.template_prefix, sent.to_email, {**sent.context, "user": sent.user})
    newest = EmailSent.objects.filter(user=sent.user, sent_at__gte=started).order_by("-sent_at").first()
    if newest is not None:
        EmailSent.objects.filter(pk=newest.pk).update(resent_by=request.user)
    return newest


log = logging.getLogger(__name__)

LOCKED_MESSAGE = gettext_lazy(
    "Sign-in to this account is locked after too many wrong attempts. We have emailed you: "
    "reset your password from that email (or ask Homeport support) to unlock it."
)


def _lock_email_send(*, email: str, language: str) -> None:
    """A plain notice, no health data; the link is built from PORTAL_BASE_URL, never the request.

    Written in the person's stored language (the site's default when they never chose one).
    """
    reset_url = settings.PORTAL_BASE_URL + reverse("account_reset_password")
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = gettext("Sign-in locked after too many wrong attempts")
        message = "\n\n".join(
            [
                gettext(
                    "Someone, perhaps you, got your password or second-factor code wrong too many times in a row, "
                    "so we locked sign-in to your Homeport account."
                ),
                gettext("To unlock it, reset your password here: %(url)s") % {"url": reset_url},
                gettext(
                    "If this was not you, resetting your password also keeps the other person out. "
                    "Homeport support can unlock the account too."
                ),
            ]
        )
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        message=message,
        from_email=None,
        recipient_list=[email],
    )
    email_send_record(to_email=email, template_prefix="accounts/email/sign_in_locked", subject="Sign-in locked")


def _failure_count(*, user_id: int, field: str, limit: int) -> bool:
    """Add one failure to `field`; lock the account when it reaches `limit`. True when locked now."""
    with transaction.atomic():
        User.objects.filter(pk=user_id).update(**{field: F(field) + 1})
        user = User.objects.select_for_update().get(pk=user_id)
        if getattr(user, field) < limit or user.mfa_locked_at is not None:
            return False
        user.mfa_locked_at = timezone.now()
        user.save(update_fields=["mfa_locked_at"])
        email, language = user.email, user.language
        transaction.on_commit(lambda: _lock_email_send(email=email, language=language))
    log.warning("account %s locked after %s consecutive failures (%s)", user_id, limit, field)
    return True


def mfa_failure_record(*, user_id: int) -> bool:
    """One wrong second factor (TOTP or recovery code). True when this failure locked the account."""
    return _failure_count(user_id=user_id, field="mfa_failures_in_a_row", limit=settings.MFA_FAILURE_LIMIT)


def password_failure_record(*, user_id: int) -> bool:
    """One wrong password. True when this failure locked the account."""
    return _failure_count(user_id=user_id, field="password_failures_in_a_row", limit=settings.PASSWORD_FAILURE_LIMIT)


def mfa_success_record(*, user_id: int) -> None:
    User.objects.filter(pk=user_id).exclude(mfa_failures_in_a_row=0).update(mfa_failures_in_a_row=0)


def password_success_record(*, user_id: int) -> None:
    User.objects.filter(pk=user_id).exclude(password_failures_in_a_row=0).update(password_failures_in_a_row=0)


def account_unlock(*, user_id: int) -> None:
    """The recovery path: a password reset by email, or staff. Clears the lock and both counts."""
    User.objects.filter(pk=user_id).update(mfa_locked_at=None, mfa_failures_in_a_row=0, password_failures_in_a_row=0)


def sessions_end_for(*, user_id: int) -> int:
    """Delete every stored session signed in as this person (other browsers included, with whatever
    they held, such as record search words). Returns how many were ended.

    Sessions carry no user column, so each live one is decoded; this runs only on account deletion."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    model = store.get_model_class()
    wanted = str(user_id)
    ended = []
    for session in model.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == wanted:
            ended.append(session.session_key)
    model.objects.filter(session_key__in=ended).delete()
    return len(ended)


def sessions_clear_expired() -> None:
    """Purge expired sessions from the store: they may hold an email address and search words."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
