"""Writes about a person's account: consent given and revoked, record access logged."""

from django.db import transaction
from django.utils import timezone

from accounts.http import client_ip
from accounts.models import AccessLogEntry, Consent, User


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
