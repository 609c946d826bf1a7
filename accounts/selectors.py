"""Reads about a person's account state: second factors, sessions, consent, access history."""

import re
import time
import unicodedata

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy

from accounts.http import AuthedRequest
from accounts.models import (
    STAFF_OTHER_REASON,
    STAFF_REASONS,
    AccessLogEntry,
    Consent,
    EmailSent,
    PersonNameToken,
    User,
)


def user_has_second_factor(*, user: User) -> bool:
    return Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()


def account_locked(*, user_id: int) -> bool:
    """Sign-in is locked after too many consecutive failures, until a reset or staff unlock it."""
    return User.objects.filter(pk=user_id, mfa_locked_at__isnull=False).exists()


def session_last_mfa_at(*, request: HttpRequest) -> float | None:
    """When this session last passed a second factor (login or reauthentication), as a Unix time."""
    times = [
        record.get("at")
        for record in get_authentication_records(request, request.user)
        if record.get("method") == "mfa" and isinstance(record.get("at"), int | float)
    ]
    return max(times) if times else None


def session_first_login_at(*, request: HttpRequest) -> float | None:
    """When this session signed in: its first authentication record, else the user's last login."""
    times = [
        record.get("at")
        for record in get_authentication_records(request, request.user)
        if isinstance(record.get("at"), int | float)
    ]
    if times:
        return min(times)
    last_login = getattr(request.user, "last_login", None)
    return last_login.timestamp() if last_login else None


def session_past_max_age(*, request: HttpRequest, now: float | None = None) -> bool:
    """True when the signed-in session is older than HEALTH_SESSION_MAX_AGE_SECONDS (any page)."""
    now = time.time() if now is None else now
    first_login = session_first_login_at(request=request)
    return first_login is not None and now - first_login > settings.HEALTH_SESSION_MAX_AGE_SECONDS


def health_session_state(*, request: AuthedRequest, now: float | None = None) -> str:
    """One of: "no-factor", "mfa-needed", "expired", "idle", "ok" for the signed-in person's session."""
    now = time.time() if now is None else now
    if not user_has_second_factor(user=request.user):
        return "no-factor"
    if session_past_max_age(request=request, now=now):
        return "expired"
    last_mfa = session_last_mfa_at(request=request)
    if last_mfa is None:
        return "mfa-needed"
    last_activity = request.session.get("health_last_activity", last_mfa)
    if now - max(last_activity, last_mfa) > settings.HEALTH_SESSION_IDLE_SECONDS:
        return "idle"
    return "ok"


def consent_current(*, user: User, purpose: str = Consent.PURPOSE_IAS) -> Consent | None:
    """The active consent under the current notice version, or None (so the person is asked again)."""
    return (
        Consent.objects.filter(
            user=user,
            purpose=purpose,
            revoked_at__isnull=True,
            notice_version=settings.PRIVACY_NOTICE_VERSION,
        )
        .order_by("-given_at")
        .first()
    )


def consent_history(*, user: User) -> QuerySet[Consent]:
    return Consent.objects.filter(user=user).order_by("-given_at")


def access_log_for(*, subject: User) -> QuerySet[AccessLogEntry]:
    return AccessLogEntry.objects.filter(subject=subject).select_related("actor").order_by("-at")


# --- staff access ----------------------------------------------------------------------------------

STAFF_REASON_TTL_SECONDS = 15 * 60
STAFF_REASONS_SESSION_KEY = "staff_access_reasons"
STAFF_REASON_CHOICES = [
    *((reason, gettext_lazy(reason)) for reason in STAFF_REASONS),
    (f"{STAFF_OTHER_REASON} (explain below)", gettext_lazy("Other (explain below)")),
]


def staff_reason_current(*, request: HttpRequest, subject_id: int, now: float | None = None) -> str | None:
    """The reason this staff member gave for this person in the last 15 minutes, or None."""
    now = time.time() if now is None else now
    entry = (request.session.get(STAFF_REASONS_SESSION_KEY) or {}).get(str(subject_id))
    if not isinstance(entry, dict) or not entry.get("reason"):
        return None
    if now - float(entry.get("at") or 0) > STAFF_REASON_TTL_SECONDS:
        return None
    return str(entry["reason"])


# --- names -------------------------------------------------------------------------------------------


def name_tokens(text: str) -> list[str]:
    """Name words folded for matching: accents removed, case folded, split on anything not a letter or digit."""
    folded = unicodedata.normalize("NFKD", text or "")
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    return [token for token in re.split(r"[^\w]+|_", folded) if token]


def name_token_digest(token: str) -> str:
    """HMAC-SHA256 of one token, keyed from SECRET_KEY: equal names match, the hash reveals nothing."""
    return salted_hmac("homeport.person-name-token", token, algorithm="sha256").hexdigest()


def users_matching_name(*, text: str) -> QuerySet[User]:
    """People whose indexed names contain every word of `text` (exact words, any order)."""
    tokens = name_tokens(text)
    if not tokens:
        return User.objects.none()
    found = User.objects.all()
    for token in tokens:
        found = found.filter(pk__in=PersonNameToken.objects.filter(digest=name_token_digest(token)).values("user_id"))
    return found


def emails_sent_to(*, user: User) -> QuerySet[EmailSent]:
    return EmailSent.objects.filter(user=user).order_by("-sent_at")
