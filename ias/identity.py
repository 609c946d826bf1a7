"""Identity proofing (IAL2) at the network: start a session, apply its outcome (webhook or poll)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from ias.errors import (
    EventMismatch,
    JourneyError,
    network_errors_as_journey,
)
from ias.models import (
    IdentityVerification,
    NetworkPatient,
)
from ias.network import (
    IDENTITY_NETWORK,
    NetworkPermanentError,
    network_for,
)

log = logging.getLogger(__name__)


# After this many failed identity checks the person is sent to support instead of trying again.
IDENTITY_MAX_ATTEMPTS = 3


def absolute_url(name: str, *args: Any) -> str:
    return settings.PORTAL_BASE_URL + reverse(name, args=args)


@network_errors_as_journey
def identity_session_start(*, user) -> IdentityVerification:
    """Open an identity-proofing session at the network; the view redirects to its `session_url`."""
    link = NetworkPatient.objects.filter(user=user, network=IDENTITY_NETWORK, patient_id__isnull=False).first()
    if link is None:
        raise JourneyError(gettext_noop("Please enter your details first."), step="demographics")
    verified = IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.VERIFIED).first()
    if verified is not None:
        return verified
    failures = IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.FAILED).count()
    if failures >= IDENTITY_MAX_ATTEMPTS:
        raise JourneyError(
            f"Your identity check did not succeed {failures} times, so it cannot be tried again here. "
            f"Please write to {settings.SUPPORT_EMAIL}: we will help you finish it.",
            step="identity",
        )
    session = network_for(link.network).identity_session_start(
        patient_id=str(link.patient_id), return_url=absolute_url("ias:identity_return")
    )
    with transaction.atomic():
        verification, _ = IdentityVerification.objects.select_for_update().get_or_create(
            session_id=session.session_id, defaults={"user": user}
        )
        verification.session_url = session.session_url
        verification.expires_at = session.expires_at
        verification.save(update_fields=["session_url", "expires_at"])
    return verification


def identity_result_apply(
    *,
    user_id: int,
    session_id: str,
    verified: bool,
    proofed_identity_id: str = "",
    expired: bool = False,
    reason: str = "",
) -> IdentityVerification:
    """Record the proofing outcome (from the webhook or a poll). A verified identity stays verified."""
    now = timezone.now()
    with transaction.atomic():
        verification = None
        if session_id:
            verification, _ = IdentityVerification.objects.select_for_update().get_or_create(
                session_id=session_id, defaults={"user_id": user_id}
            )
            if verification.user_id != user_id:
                raise EventMismatch("the event's sessionId belongs to another person's identity session")
        else:
            verification = (
                IdentityVerification.objects.select_for_update()
                .filter(user_id=user_id, status=IdentityVerification.Status.PENDING)
                .first()
            )
            if verification is None:
                verification = IdentityVerification.objects.create(
                    user_id=user_id, session_id=f"unnamed-{now.timestamp():.6f}"
                )
        if verification.status == IdentityVerification.Status.VERIFIED:
            return verification
        if verified and proofed_identity_id:
            verification.status = IdentityVerification.Status.VERIFIED
            verification.proofed_identity_id = proofed_identity_id
            verification.verified_at = now
            verification.failure_reason = ""
        else:
            verification.status = IdentityVerification.Status.EXPIRED if expired else IdentityVerification.Status.FAILED
            verification.failure_reason = reason[:300]
        verification.save()
    return verification


def identity_poll(*, verification_id: int) -> IdentityVerification:
    """The fallback when the webhook is late: ask the network about the session, then ask it to resend."""
    verification = IdentityVerification.objects.get(pk=verification_id)
    if verification.status != IdentityVerification.Status.PENDING:
        return verification
    IdentityVerification.objects.filter(pk=verification_id).update(last_polled_at=timezone.now())
    network = network_for()
    answer = network.identity_session_status(session_id=verification.session_id)
    if answer.state == "verified":
        return identity_result_apply(
            user_id=verification.user_id,
            session_id=verification.session_id,
            verified=True,
            proofed_identity_id=answer.proofed_identity_id,
        )
    if answer.state == "expired":
        return identity_result_apply(
            user_id=verification.user_id,
            session_id=verification.session_id,
            verified=False,
            expired=True,
            reason="The identity check expired before it was finished.",
        )
    if answer.state == "failed":
        return identity_result_apply(
            user_id=verification.user_id,
            session_id=verification.session_id,
            verified=False,
            reason=answer.reason,
        )
    # The network keeps undelivered webhooks until asked: ask for them again.
    with contextlib.suppress(NetworkPermanentError):
        network.events_resend()
    return verification
