"""Writes about a person's account: consent given and revoked, record access logged (by the person
or by staff, with the reason), searchable name tokens, the emails sent, and sign-in failures counted
with the account locked after too many in a row."""

import logging
import time
from collections.abc import Iterable
from functools import partial
from importlib import import_module

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from accounts.http import AuthedRequest, client_ip
from accounts.mail import branded_email_send, portal_url
from accounts.models import AccessLogEntry, Consent, PersonNameToken, User
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


def access_log_record(*, request: HttpRequest, subject: User, action: str, target: str = "") -> AccessLogEntry:
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
    *, request: AuthedRequest, subject: User, action: str, target: str = "", reason: str
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


log = logging.getLogger(__name__)

LOCKED_MESSAGE = gettext_lazy(
    "Sign-in to this account is locked after too many wrong attempts. We have emailed you: "
    "reset your password from that email (or ask Homeport support) to unlock it."
)


def _lock_email_send(*, email: str, language: str) -> None:
    """A plain notice, no health data; the link is built from PORTAL_BASE_URL, never the request.

    Written in the person's stored language (the site's default when they never chose one).
    """
    with translation.override(language or settings.LANGUAGE_CODE):
        branded_email_send(
            to=email,
            subject=gettext("Sign-in locked after too many wrong attempts"),
            template="accounts/email/sign_in_locked",
            context={"reset_url": portal_url(reverse("account_reset_password"))},
        )


def _unlock_email_send(*, email: str, language: str) -> None:
    """Tell the person support unlocked sign-in; no health data, links from PORTAL_BASE_URL."""
    with translation.override(language or settings.LANGUAGE_CODE):
        branded_email_send(
            to=email,
            subject=gettext("Sign-in unlocked by support"),
            template="accounts/email/sign_in_unlocked",
            context={"reset_url": portal_url(reverse("account_reset_password"))},
        )


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


def account_unlock_by_staff(*, user_ids: Iterable[int], staff_id: int) -> int:
    """Staff unlock sign-in for locked accounts (after checking who is asking, outside Homeport).

    Each person is emailed that support unlocked it, so an unlock someone did not ask for is seen.
    Returns how many accounts were unlocked; accounts that were not locked are left alone."""
    with transaction.atomic():
        locked = list(
            User.objects.select_for_update()
            .filter(pk__in=list(user_ids), mfa_locked_at__isnull=False)
            .values_list("pk", "email", "language")
        )
        for user_id, email, language in locked:
            account_unlock(user_id=user_id)
            transaction.on_commit(partial(_unlock_email_send, email=email, language=language))
    for user_id, _email, _language in locked:
        log.info("account %s unlocked by staff %s", user_id, staff_id)
    return len(locked)


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
