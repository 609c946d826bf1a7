"""Writes about a person's account: consent given and revoked, record access logged (by the person
or by staff, with the reason), searchable name tokens, and the emails sent."""

import time
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

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
