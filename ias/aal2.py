"""The AAL2 challenge the network asks for before each query, bound to this person by our own `state`."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from ias.errors import (
    Aal2Mismatch,
    Aal2Refused,
    JourneyError,
    network_errors_as_journey,
)
from ias.identity import absolute_url
from ias.models import (
    AAL2_FRESH_FOR,
    Aal2Challenge,
    IdentityVerification,
)
from ias.network import (
    NETWORK_ID,
    NetworkPermanentError,
    NetworkTransientError,
    network_for,
)

log = logging.getLogger(__name__)


@network_errors_as_journey
def aal2_challenge_start(*, user) -> Aal2Challenge:
    """Open an AAL2 challenge; its return URL carries our own `state`, binding the answer to this person."""
    identity = IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.VERIFIED).first()
    if identity is None:
        raise JourneyError(gettext_noop("Please verify your identity first."), step="identity")
    challenge = Aal2Challenge.objects.create(user=user, proofed_identity_id=identity.proofed_identity_id)
    try:
        opened = network_for().aal2_challenge_start(
            proofed_identity_id=identity.proofed_identity_id,
            return_url=absolute_url("ias:aal2_return", challenge.state),
        )
    except NetworkPermanentError as exc:
        Aal2Challenge.objects.filter(pk=challenge.pk).update(
            status=Aal2Challenge.Status.REFUSED, failure_reason=f"HTTP {exc.status}"
        )
        raise
    except NetworkTransientError:
        challenge.delete()
        raise
    challenge.challenge_id = opened.challenge_id
    challenge.challenge_url = opened.challenge_url
    challenge.method = opened.method
    challenge.expires_at = opened.expires_at
    challenge.save(update_fields=["challenge_id", "challenge_url", "method", "expires_at"])
    return challenge


def aal2_challenge_complete(
    *, user, state: str, aal2_session_id: str, status: str, challenge_id: str = ""
) -> Aal2Challenge:
    """Accept the browser's return from the challenge only for this person's own open challenge."""
    now = timezone.now()
    refusal = ""
    with transaction.atomic():
        challenge = Aal2Challenge.objects.select_for_update().filter(state=state, user=user).first()
        if challenge is None:
            raise Aal2Mismatch(gettext_noop("This security check does not belong to your session."), step="aal2")
        if challenge.status == Aal2Challenge.Status.VERIFIED and challenge.aal2_session_id == aal2_session_id:
            return challenge
        if challenge.status != Aal2Challenge.Status.PENDING:
            raise Aal2Mismatch(
                gettext_noop("This security check was already used. Please start a new one."), step="aal2"
            )
        if challenge_id and challenge.challenge_id and challenge_id != challenge.challenge_id:
            raise Aal2Mismatch(gettext_noop("This security check does not belong to your session."), step="aal2")
        if now - challenge.created_at > AAL2_FRESH_FOR or (challenge.expires_at and challenge.expires_at < now):
            challenge.status = Aal2Challenge.Status.EXPIRED
            refusal = "The security check took too long and expired. Please do it again."
        elif status != "verified" or not NETWORK_ID.match(aal2_session_id or ""):
            challenge.status = Aal2Challenge.Status.REFUSED
            refusal = "The security check was not completed. Please try again."
        elif Aal2Challenge.objects.filter(aal2_session_id=aal2_session_id).exclude(pk=challenge.pk).exists():
            # The contract has no way to ask the network which challenge a session came from, so a
            # session id is accepted once ever: an earlier (or someone else's) one is a replay.
            challenge.status = Aal2Challenge.Status.REFUSED
            refusal = "This security check was already used. Please do it again."
        else:
            challenge.status = Aal2Challenge.Status.VERIFIED
            challenge.aal2_session_id = aal2_session_id
            challenge.verified_at = now
        challenge.failure_reason = refusal
        challenge.save()
    if refusal:
        raise Aal2Refused(refusal, step="aal2")
    return challenge
