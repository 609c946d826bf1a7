"""The journey's writes: each service owns its transaction and never holds one across a network call.

Network calls happen outside transactions (the sandbox may be served by this very process, and a
lock held across a call would wait on itself); the rows they touch are then updated under
`select_for_update`, idempotently, so a retried or concurrent call changes nothing twice.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_noop

from accounts.crypto import encrypt_text
from accounts.selectors import consent_current
from accounts.services import person_name_index
from ias import metriport, wording
from ias.errors import (
    Aal2Mismatch,
    Aal2Refused,
    EventMismatch,
    JourneyError,
    NetworkRefused,
    NetworkUnavailable,
    QueryRefused,
)
from ias.metriport import NetworkPermanentError, NetworkTransientError, SourceChoice
from ias.models import (
    AAL2_FRESH_FOR,
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    PatientDeletion,
    QuerySource,
    WebhookEvent,
)
from ias.selectors import SAVING_COUNT_KEY, query_outcome

log = logging.getLogger(__name__)
T = TypeVar("T")

# After this many failed identity checks the person is sent to support instead of trying again.
IDENTITY_MAX_ATTEMPTS = 3
QUERY_REF_KEY = "homeportQueryId"
NETWORK_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,100}$")


def absolute_url(name: str, *args: Any) -> str:
    return settings.PORTAL_BASE_URL + reverse(name, args=args)


def parse_when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


# --- patient link ---------------------------------------------------------------------------


def network_errors_as_journey(func: Callable[..., T]) -> Callable[..., T]:
    """A person's step that calls the network: transport errors leave it as journey errors with words
    for people (NetworkRefused for a 4xx, NetworkUnavailable otherwise), so views never see transport."""

    @functools.wraps(func)
    def step(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except NetworkPermanentError as exc:
            raise NetworkRefused(wording.network_problem(exc)) from None
        except NetworkTransientError as exc:
            raise NetworkUnavailable(wording.network_problem(exc)) from None

    return step


@network_errors_as_journey
def network_patient_save(*, user, demographics: dict[str, Any]) -> NetworkPatient:
    """Create the person's patient at the network the first time; update it afterwards."""
    if consent_current(user=user) is None:
        raise JourneyError(gettext_noop("Please give your consent first."), step="consent")
    link, _ = NetworkPatient.objects.get_or_create(user=user, defaults={"facility_id": settings.METRIPORT_FACILITY_ID})
    body = {**demographics, "externalId": f"homeport-{user.pk}"}
    created_id = ""
    with metriport.client() as api:
        if link.patient_id:
            api.patient_update(patient_id=link.patient_id, facility_id=link.facility_id, demographics=body)
        else:
            created = api.patient_create(facility_id=link.facility_id, demographics=body)
            created_id = str(created.get("id") or "")
            if not NETWORK_ID.match(created_id):
                raise NetworkTransientError("POST /medical/v1/patient: answer without a usable id")
    with transaction.atomic():
        link = NetworkPatient.objects.select_for_update().get(pk=link.pk)
        if created_id:
            if link.patient_id and link.patient_id != created_id:
                # A second submission won the race: the extra patient at the network must go.
                _deletion_schedule(network_patient_id=created_id, facility_id=link.facility_id)
            else:
                link.patient_id = created_id
        link.demographics_encrypted = encrypt_text(json.dumps(demographics))
        link.save()
        person_name_index(user=user, names=[str(demographics.get(key) or "") for key in ("firstName", "lastName")])
    return link


# --- identity (IAL2) ------------------------------------------------------------------------------


@network_errors_as_journey
def identity_session_start(*, user) -> IdentityVerification:
    """Open an identity-proofing session at the network; the view redirects to its `session_url`."""
    link = NetworkPatient.objects.filter(user=user, patient_id__isnull=False).first()
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
    with metriport.client() as api:
        answer = api.identity_session_create(
            patient_id=str(link.patient_id), redirect_url=absolute_url("ias:identity_return")
        )
    session_id = str(answer.get("sessionId") or "")
    session_url = str(answer.get("sessionUrl") or "")
    if not NETWORK_ID.match(session_id) or not session_url.startswith(("https://", "http://")):
        raise NetworkTransientError("POST /medical/v1/identity/session: answer without a session")
    with transaction.atomic():
        verification, _ = IdentityVerification.objects.select_for_update().get_or_create(
            session_id=session_id, defaults={"user": user}
        )
        verification.session_url = session_url
        verification.expires_at = parse_when(answer.get("expiresAt"))
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


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def identity_reason_read(payload: Any) -> str:
    """The network's own words for why a check failed, read defensively: a short single line of
    text or nothing (it is shown escaped, next to our own advice)."""
    if not isinstance(payload, dict):
        return ""
    for key in ("reason", "failureReason", "message"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            text = " ".join(_CONTROL.sub(" ", value).split())
            return text[:200]
    return ""


def identity_poll(*, verification_id: int) -> IdentityVerification:
    """The fallback when the webhook is late: ask the network about the session, then ask it to resend."""
    verification = IdentityVerification.objects.get(pk=verification_id)
    if verification.status != IdentityVerification.Status.PENDING:
        return verification
    IdentityVerification.objects.filter(pk=verification_id).update(last_polled_at=timezone.now())
    with metriport.client() as api:
        try:
            answer = api.identity_session_get(session_id=verification.session_id)
        except NetworkPermanentError:
            answer = {}
        status = str(answer.get("status") or "")
        proofed = str(answer.get("proofedIdentityId") or "")
        if status in ("completed", "verified") and NETWORK_ID.match(proofed):
            return identity_result_apply(
                user_id=verification.user_id,
                session_id=verification.session_id,
                verified=True,
                proofed_identity_id=proofed,
            )
        if status == "expired":
            return identity_result_apply(
                user_id=verification.user_id,
                session_id=verification.session_id,
                verified=False,
                expired=True,
                reason="The identity check expired before it was finished.",
            )
        if status in ("failed", "rejected") or str(answer.get("result") or "") == "failed":
            return identity_result_apply(
                user_id=verification.user_id,
                session_id=verification.session_id,
                verified=False,
                reason=identity_reason_read(answer),
            )
        # The network keeps undelivered webhooks until asked: ask for them again.
        with contextlib.suppress(NetworkPermanentError):
            api.settings_webhook_retry()
    return verification


# --- AAL2 --------------------------------------------------------------------------------------------


@network_errors_as_journey
def aal2_challenge_start(*, user) -> Aal2Challenge:
    """Open an AAL2 challenge; its return URL carries our own `state`, binding the answer to this person."""
    identity = IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.VERIFIED).first()
    if identity is None:
        raise JourneyError(gettext_noop("Please verify your identity first."), step="identity")
    challenge = Aal2Challenge.objects.create(user=user, proofed_identity_id=identity.proofed_identity_id)
    try:
        with metriport.client() as api:
            answer = api.aal2_challenge_create(
                proofed_identity_id=identity.proofed_identity_id,
                redirect_url=absolute_url("ias:aal2_return", challenge.state),
            )
    except NetworkPermanentError as exc:
        Aal2Challenge.objects.filter(pk=challenge.pk).update(
            status=Aal2Challenge.Status.REFUSED, failure_reason=f"HTTP {exc.status}"
        )
        raise
    except NetworkTransientError:
        challenge.delete()
        raise
    challenge_url = str(answer.get("challengeUrl") or "")
    challenge_id = str(answer.get("challengeId") or "")
    if not challenge_url.startswith(("https://", "http://")) or not NETWORK_ID.match(challenge_id):
        challenge.delete()
        raise NetworkTransientError("POST /medical/v1/identity/aal2/challenge: answer without a challenge")
    challenge.challenge_id = challenge_id
    challenge.challenge_url = challenge_url
    challenge.method = str(answer.get("method") or "")[:20]
    challenge.expires_at = parse_when(answer.get("expiresAt"))
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


# --- network query -------------------------------------------------------------------------------------


def network_query_start(*, user, sources: SourceChoice) -> NetworkQuery:
    """Spend this person's fresh AAL2 session on one IAS network query."""
    if consent_current(user=user) is None:
        raise JourneyError(gettext_noop("Please give your consent first."), step="consent")
    link = NetworkPatient.objects.filter(user=user, patient_id__isnull=False).first()
    if link is None:
        raise JourneyError(gettext_noop("Please enter your details first."), step="demographics")
    if not sources.enabled():
        raise JourneyError(gettext_noop("Choose at least one place to search."), step="sources")
    now = timezone.now()
    stale = False
    with transaction.atomic():
        challenge = (
            Aal2Challenge.objects.select_for_update()
            .filter(user=user, status=Aal2Challenge.Status.VERIFIED)
            .order_by("-verified_at")
            .first()
        )
        if challenge is not None and (challenge.verified_at is None or now - challenge.verified_at > AAL2_FRESH_FOR):
            challenge.status = Aal2Challenge.Status.EXPIRED
            challenge.failure_reason = "Not used within 15 minutes."
            challenge.save(update_fields=["status", "failure_reason"])
            stale = True
        if challenge is not None and not stale:
            challenge.status = Aal2Challenge.Status.USED
            challenge.save(update_fields=["status"])
            query = NetworkQuery.objects.create(user=user, kind=NetworkQuery.Kind.NETWORK)
            QuerySource.objects.bulk_create([QuerySource(query=query, source_type=name) for name in sources.enabled()])
    if challenge is None or stale:
        raise Aal2Refused(
            gettext_noop("Your security check has expired. Please pass it again before searching."), step="aal2"
        )
    try:
        with metriport.client() as api:
            answer = api.network_query_start(
                patient_id=str(link.patient_id),
                proofed_identity_id=challenge.proofed_identity_id,
                aal2_session_id=challenge.aal2_session_id,
                sources=sources,
                metadata={QUERY_REF_KEY: str(query.public_id)},
            )
    except NetworkPermanentError as exc:
        about_aal2 = exc.status in (401, 403) or "aal2" in f"{exc.name} {exc.detail}".lower()
        query_fail_to_start(query=query, reason=wording.QUERY_START_FAILED)
        if about_aal2:
            Aal2Challenge.objects.filter(pk=challenge.pk).update(
                status=Aal2Challenge.Status.REFUSED, failure_reason=f"Query refused: HTTP {exc.status}"
            )
            raise Aal2Refused(
                gettext_noop(
                    "The network did not accept your security check (it may have expired). Please pass it again."
                ),
                step="aal2",
            ) from None
        raise QueryRefused(wording.network_refusal(exc.detail, exc.status), step="sources") from None
    except NetworkTransientError:
        query_fail_to_start(query=query, reason=wording.QUERY_START_FAILED)
        # The network never saw the session, so the person may use it again.
        Aal2Challenge.objects.filter(pk=challenge.pk).update(status=Aal2Challenge.Status.VERIFIED)
        raise NetworkUnavailable(
            gettext_noop("The health network could not be reached just now. Please try again in a minute."),
            step="sources",
        ) from None
    return query_apply_network_status(query_id=query.pk, body=answer)


def query_fail_to_start(*, query: NetworkQuery, reason: str) -> None:
    with transaction.atomic():
        NetworkQuery.objects.filter(pk=query.pk).update(
            status=NetworkQuery.Status.FAILED, failure_reason=reason, completed_at=timezone.now()
        )
        QuerySource.objects.filter(query=query).update(status=QuerySource.Status.FAILED, reason=reason)


_SOURCE_RANK: dict[str, int] = {
    QuerySource.Status.REQUESTED: 0,
    QuerySource.Status.PROCESSING: 1,
    QuerySource.Status.REFUSED: 2,
    QuerySource.Status.TIMED_OUT: 2,
    QuerySource.Status.FAILED: 3,
    QuerySource.Status.COMPLETED: 3,
}
_NETWORK_SOURCE_STATUS = {
    "processing": QuerySource.Status.PROCESSING,
    "completed": QuerySource.Status.COMPLETED,
    "failed": QuerySource.Status.FAILED,
}


def _source_row(query: NetworkQuery, source_type: str) -> QuerySource:
    source_type = (source_type or "unknown")[:20]
    row = QuerySource.objects.select_for_update().filter(query=query, source_type=source_type).first()
    if row is None:
        row = QuerySource.objects.create(query=query, source_type=source_type)
    return row


def _source_advance(
    row: QuerySource,
    status: str,
    *,
    reason: str = "",
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    http_status: int | None = None,
    network_message: str = "",
) -> bool:
    """Move a source forward only: a late "processing" never undoes "completed"; first terminal wins,
    except that a real answer (completed/failed) replaces a refusal or time-out we assumed."""
    current = _SOURCE_RANK.get(row.status, 0)
    new = _SOURCE_RANK.get(status, 0)
    if new < current or (new == current and row.status != status):
        return False
    row.status = status
    if reason:
        row.reason = reason[:300]
    elif status == QuerySource.Status.COMPLETED:
        row.reason = ""
    if started_at and not row.started_at:
        row.started_at = started_at
    if status in QuerySource.TERMINAL and not row.completed_at:
        row.completed_at = completed_at or timezone.now()
    if http_status is not None:
        row.http_status = http_status
    if network_message:
        row.network_message = network_message[:500]
    row.save()
    return True


def _query_recompute(query: NetworkQuery) -> None:
    """Derive the overall status from the sources, like the network does."""
    if query.kind != NetworkQuery.Kind.NETWORK:
        return
    statuses = list(query.sources.values_list("status", flat=True))
    if not statuses:
        return
    if any(s not in QuerySource.TERMINAL for s in statuses):
        if query.status in (NetworkQuery.Status.STARTING, NetworkQuery.Status.TIMED_OUT):
            return
        query.status = NetworkQuery.Status.PROCESSING
        query.completed_at = None
        return
    completed = sum(1 for s in statuses if s == QuerySource.Status.COMPLETED)
    if completed == len(statuses):
        query.status = NetworkQuery.Status.COMPLETED
    elif completed:
        query.status = NetworkQuery.Status.PARTIAL
    elif query.status != NetworkQuery.Status.TIMED_OUT:
        query.status = NetworkQuery.Status.FAILED
    query.completed_at = query.completed_at or timezone.now()


def _query_absorb(*, into: NetworkQuery, placeholder: NetworkQuery) -> None:
    """Fold a placeholder (made by an early webhook) into the query the portal started."""
    for early in placeholder.sources.all():
        row = _source_row(into, early.source_type)
        _source_advance(
            row,
            early.status,
            reason=early.reason,
            started_at=early.started_at,
            completed_at=early.completed_at,
            http_status=early.http_status,
            network_message=early.network_message,
        )
        if early.records != QuerySource.Records.NONE and row.records == QuerySource.Records.NONE:
            row.records = early.records
            row.first_data_at = row.first_data_at or early.first_data_at
            row.save(update_fields=["records", "first_data_at"])
    NetworkQuery.objects.filter(parent=placeholder).update(parent=into)
    placeholder.delete()


def _query_bind_request_id(query: NetworkQuery, request_id: str) -> NetworkQuery:
    """Give `query` its network request id; merges with a row an early webhook or an identical
    running consolidated query already holds. Returns the row that now owns the request id."""
    if not request_id or query.request_id == request_id:
        return query
    other = NetworkQuery.objects.select_for_update().filter(request_id=request_id).exclude(pk=query.pk).first()
    if other is not None and not other.placeholder:
        # The network answered with a query we already track (one consolidated query at a time).
        if query.parent_id and not other.parent_id:
            other.parent_id = query.parent_id
            other.save(update_fields=["parent"])
        query.delete()
        return other
    if other is not None:
        _query_absorb(into=query, placeholder=other)
    query.request_id = request_id
    query.save(update_fields=["request_id"])
    return query


def query_apply_network_status(*, query_id: int, body: dict[str, Any]) -> NetworkQuery:
    """Apply a Start/Get Network Query answer: the sources it lists and the ones refused in `errors`."""
    now = timezone.now()
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        query = _query_bind_request_id(query, str(body.get("requestId") or ""))
        query.started_at = query.started_at or parse_when(body.get("startedAt")) or now
        if query.status == NetworkQuery.Status.STARTING:
            query.status = NetworkQuery.Status.PROCESSING
        for item in body.get("sources") or []:
            if not isinstance(item, dict):
                continue
            status = _NETWORK_SOURCE_STATUS.get(str(item.get("status") or ""))
            if status is None:
                continue
            _source_advance(
                _source_row(query, str(item.get("type") or "")),
                status,
                reason=wording.SOURCE_FAILED if status == QuerySource.Status.FAILED else "",
                started_at=parse_when(item.get("startedAt")),
                completed_at=parse_when(item.get("completedAt")),
            )
        for error in body.get("errors") or []:
            if not isinstance(error, dict):
                continue
            http_status = error.get("httpStatus")
            http_status = http_status if isinstance(http_status, int) else None
            _source_advance(
                _source_row(query, str(error.get("source") or "")),
                QuerySource.Status.REFUSED,
                reason=wording.refused_reason(http_status),
                http_status=http_status,
                network_message=str(error.get("message") or ""),
            )
        _query_recompute(query)
        query.last_activity_at = now
        query.save()
        _query_settle(query)
    return query


def _query_settle(query: NetworkQuery) -> None:
    """Once the query has finished and every source's records are in, note it and tell the person
    (after commit, once). Must be called inside a transaction holding the query's row."""
    if query.kind != NetworkQuery.Kind.NETWORK or query.settled_at is not None or not query.is_terminal:
        return
    if not all(row.is_settled for row in query.sources.all()):
        return
    from ias.tasks import query_outcome_notify

    query.settled_at = timezone.now()
    query.save(update_fields=["settled_at"])
    query_id = query.pk
    transaction.on_commit(lambda: query_outcome_notify.delay(query_id=query_id), robust=True)


def query_for_event(
    *, user_id: int, request_id: str, query_ref: str, kind: str = NetworkQuery.Kind.NETWORK
) -> NetworkQuery:
    """Find (locked) the query an event talks about, or create a placeholder for one not seen yet.

    Must be called inside a transaction."""
    if request_id:
        query = NetworkQuery.objects.select_for_update().filter(request_id=request_id).first()
        if query is not None:
            return _query_owned_by(query, user_id)
    if query_ref:
        query = NetworkQuery.objects.select_for_update().filter(public_id=_uuid_or_none(query_ref)).first()
        if query is not None and query.user_id == user_id:
            return _query_bind_request_id(query, request_id)
    if not request_id:
        raise JourneyError("event names no query")
    try:
        with transaction.atomic():
            return NetworkQuery.objects.create(
                user_id=user_id,
                kind=kind,
                request_id=request_id,
                placeholder=True,
                status=NetworkQuery.Status.PROCESSING,
                started_at=timezone.now(),
            )
    except IntegrityError:
        return _query_owned_by(NetworkQuery.objects.select_for_update().get(request_id=request_id), user_id)


def _query_owned_by(query: NetworkQuery, user_id: int) -> NetworkQuery:
    """The query an event's requestId names, only if it is the event's patient's own."""
    if query.user_id != user_id:
        raise EventMismatch("the event's requestId belongs to another person's query")
    return query


def _uuid_or_none(value: str):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def source_event_apply(
    *,
    user_id: int,
    request_id: str,
    query_ref: str,
    source_type: str,
    status: str,
    completed_at: datetime | None,
    first_data: bool,
) -> tuple[int, int]:
    """Record what one `network-query.*` webhook says about its source; returns (query id, source id)."""
    now = timezone.now()
    with transaction.atomic():
        query = query_for_event(user_id=user_id, request_id=request_id, query_ref=query_ref)
        row = _source_row(query, source_type)
        if first_data:
            _source_advance(row, QuerySource.Status.PROCESSING)
            if not row.first_data_at:
                row.first_data_at = now
                row.save(update_fields=["first_data_at"])
        else:
            mapped = _NETWORK_SOURCE_STATUS.get(status, QuerySource.Status.COMPLETED)
            _source_advance(
                row,
                mapped,
                reason=wording.SOURCE_FAILED if mapped == QuerySource.Status.FAILED else "",
                completed_at=completed_at,
            )
        _query_recompute(query)
        query.last_activity_at = now
        query.save()
        _query_settle(query)
    return query.pk, row.pk


def query_poll(*, query_id: int) -> NetworkQuery:
    """Ask the network where a quiet query stands and finish it from the answer (webhooks may be lost)."""
    query = NetworkQuery.objects.select_related("user").get(pk=query_id)
    if query.is_terminal or not query.request_id:
        return query
    NetworkQuery.objects.filter(pk=query_id).update(last_polled_at=timezone.now(), poll_count=query.poll_count + 1)
    link = NetworkPatient.objects.filter(user_id=query.user_id).first()
    with metriport.client() as api:
        if query.kind == NetworkQuery.Kind.CONSOLIDATED:
            if link is None or not link.patient_id:
                return query
            answer = api.consolidated_query_get(patient_id=link.patient_id, request_id=query.request_id)
            if str(answer.get("status")) == "failed":
                consolidated_result_apply(query_id=query.pk, outcome="failed")
            elif str(answer.get("status")) == "completed":
                # The result only travels by webhook: ask the network to send what it still holds.
                with contextlib.suppress(NetworkPermanentError):
                    api.settings_webhook_retry()
            return NetworkQuery.objects.get(pk=query_id)
        answer = api.network_query_get(request_id=query.request_id)
    query = query_apply_network_status(query_id=query_id, body=answer)
    if query.is_terminal:
        missing = query.sources.filter(status=QuerySource.Status.COMPLETED, records=QuerySource.Records.NONE)
        if missing.exists():
            # Finished but its source webhooks never came: fetch the record another way (marked
            # first, so a fast answer to the consolidated query finds the sources waiting for it).
            missing.update(records=QuerySource.Records.AWAITING)
            consolidated_query_start(user_id=query.user_id, parent_id=query.pk)
    return query


def query_time_out(*, query_id: int) -> NetworkQuery:
    """Stop waiting on a query that never finished; unfinished sources say so in plain words."""
    now = timezone.now()
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        if query.is_terminal:
            return query
        for row in query.sources.select_for_update():
            if not row.is_terminal:
                _source_advance(row, QuerySource.Status.TIMED_OUT, reason=wording.SOURCE_TIMED_OUT)
        query.status = NetworkQuery.Status.TIMED_OUT
        query.failure_reason = wording.QUERY_TIMED_OUT
        query.completed_at = now
        _query_recompute(query)
        query.save()
        _query_settle(query)
    return query


def query_records_give_up(*, query_id: int, older_than: datetime) -> NetworkQuery:
    """A finished search whose records never came in (an event that gave up, a fresh copy that never
    arrived): the sources say so, so the page stops waiting and offers to ask them again."""
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        if not query.is_terminal or query.settled_at is not None:
            return query
        for row in query.sources.select_for_update():
            if not row.is_settled and row.updated_at <= older_than:
                row.records = QuerySource.Records.FAILED
                row.save(update_fields=["records", "updated_at"])
        _query_settle(query)
    return query


def query_mark_failed(*, query_id: int, reason: str) -> NetworkQuery:
    """Staff action: give up on a stuck query."""
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        if query.is_terminal:
            return query
        query.sources.exclude(status__in=QuerySource.TERMINAL).update(
            status=QuerySource.Status.FAILED, reason=reason[:300], completed_at=timezone.now()
        )
        query.status = NetworkQuery.Status.FAILED
        query.failure_reason = reason[:300]
        query.completed_at = timezone.now()
        query.save()
        _query_settle(query)
    return query


# --- records ---------------------------------------------------------------------------------------


def records_saving_note(*, user_id: int, count: int | None) -> None:
    """Publish (or clear, with None) the running save's count; a shared cache, so no database lock."""
    key = SAVING_COUNT_KEY.format(user_id=user_id)
    with contextlib.suppress(Exception):
        if count is None:
            caches["progress"].delete(key)
        else:
            caches["progress"].set(key, count, timeout=3600)


def records_ingest_from_url(
    *, user_id: int, url: str, network_source: str, request_id: str, patient_id: str, network: str = "metriport"
):
    """The one door from ias into records' ingest (records sits below ias); it publishes the count saved so far.
    A consolidated link is the whole record as of its time, so what it no longer holds is retired;
    `network` names the network that sent it, whose ids and retirements are its own."""
    from records.services import snapshot_ingest_from_url

    records_saving_note(user_id=user_id, count=0)
    try:
        return snapshot_ingest_from_url(
            user_id=user_id,
            url=url,
            network_source=network_source,
            request_id=request_id,
            patient_id=patient_id,
            retire=True,
            on_progress=lambda count: records_saving_note(user_id=user_id, count=count),
            network=network,
        )
    finally:
        records_saving_note(user_id=user_id, count=None)


def bundle_fetch(
    *, user_id: int, url: str, network_source: str, request_id: str, data_at: datetime, message_id: str
) -> tuple[str, int]:
    """Ingest a linked consolidated bundle unless a newer one is already in.

    Returns (a Records value, resources saved). Each link is the WHOLE record as of `data_at`, so an
    older bundle arriving late is skipped (order independence) and the same event processed twice
    ingests once. A bundle holding only the Patient is "empty": the sources found nothing."""
    from records.errors import BundleDownloadError, BundleLinkExpired
    from records.services import snapshot_clinical_count

    link = NetworkPatient.objects.get(user_id=user_id)
    if link.last_ingested_data_at is not None and (
        data_at < link.last_ingested_data_at
        or (data_at == link.last_ingested_data_at and message_id == link.last_ingested_message_id)
    ):
        return QuerySource.Records.SKIPPED, 0
    try:
        snapshot = records_ingest_from_url(
            user_id=user_id,
            url=url,
            network_source=network_source,
            request_id=request_id,
            patient_id=link.patient_id or "",
        )
    except BundleLinkExpired:
        return QuerySource.Records.AWAITING, 0
    except BundleDownloadError as exc:
        if exc.transient:
            raise
        log.warning("bundle for request %s could not be ingested: %s", request_id, exc.reason)
        return QuerySource.Records.FAILED, 0
    with transaction.atomic():
        link = NetworkPatient.objects.select_for_update().get(pk=link.pk)
        if link.last_ingested_data_at is None or data_at >= link.last_ingested_data_at:
            link.last_ingested_data_at = data_at
            link.last_ingested_message_id = message_id
            link.save(update_fields=["last_ingested_data_at", "last_ingested_message_id"])
    clinical = snapshot_clinical_count(snapshot=snapshot)
    if clinical == 0:
        return QuerySource.Records.EMPTY, 0
    return QuerySource.Records.FETCHED, clinical


def source_records_set(*, source_id: int, records: str, saved: int | None = None) -> None:
    """Note what became of a source's records; "fetched" is never downgraded by a later skip or save.

    "saving" is set before a bundle is downloaded, so the source does not read as done while its
    records are still on their way into the person's record."""
    query_id = QuerySource.objects.values_list("query_id", flat=True).get(pk=source_id)
    with transaction.atomic():
        # The query first, then the source: the order every other service locks them in.
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        row = QuerySource.objects.select_for_update().get(pk=source_id)
        if row.records == QuerySource.Records.FETCHED and records in (
            QuerySource.Records.SKIPPED,
            QuerySource.Records.SAVING,
        ):
            return
        if records == QuerySource.Records.NONE and row.records != QuerySource.Records.SAVING:
            return  # "none" only takes back a save that did not finish
        row.records = records
        if saved is not None:
            row.records_saved = saved
        row.save(update_fields=["records", "records_saved", "updated_at"])
        _query_settle(query)


MAX_CONSOLIDATED_PER_QUERY = 3


def consolidated_query_start(*, user_id: int, parent_id: int | None = None) -> NetworkQuery | None:
    """Ask for the consolidated record again (an expired link or a lost webhook); its webhook finishes."""
    link = NetworkPatient.objects.filter(user_id=user_id, patient_id__isnull=False).first()
    if link is None:
        return None
    if parent_id and (
        NetworkQuery.objects.filter(parent_id=parent_id, kind=NetworkQuery.Kind.CONSOLIDATED).count()
        >= MAX_CONSOLIDATED_PER_QUERY
    ):
        return None
    query = NetworkQuery.objects.create(user_id=user_id, kind=NetworkQuery.Kind.CONSOLIDATED, parent_id=parent_id)
    try:
        with metriport.client() as api:
            answer = api.consolidated_query_start(
                patient_id=str(link.patient_id),
                conversion_type="json",
                metadata={QUERY_REF_KEY: str(query.public_id)},
            )
    except (NetworkTransientError, NetworkPermanentError):
        query.delete()
        raise
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query.pk)
        query = _query_bind_request_id(query, str(answer.get("requestId") or ""))
        if query.status == NetworkQuery.Status.STARTING:
            query.status = NetworkQuery.Status.PROCESSING
        query.started_at = query.started_at or parse_when(answer.get("startedAt")) or timezone.now()
        query.last_activity_at = timezone.now()
        query.save()
    return query


def consolidated_result_apply(*, query_id: int, outcome: str) -> None:
    """Finish a consolidated query and tell the sources that were waiting on it what happened.

    The consolidated bundle is the person's whole record, so every source of theirs still waiting for
    a fresh copy is answered by it, even if the link to the query that asked was lost on the way."""
    now = timezone.now()
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        query.status = NetworkQuery.Status.FAILED if outcome == "failed" else NetworkQuery.Status.COMPLETED
        query.completed_at = query.completed_at or now
        query.last_activity_at = now
        query.save()
        if outcome == QuerySource.Records.AWAITING:
            return
        records = {
            "failed": QuerySource.Records.FAILED,
            "empty": QuerySource.Records.EMPTY,
            QuerySource.Records.SKIPPED: QuerySource.Records.FETCHED,
        }.get(outcome, outcome)
        waiting = QuerySource.objects.filter(
            query__user_id=query.user_id,
            query__kind=NetworkQuery.Kind.NETWORK,
            records=QuerySource.Records.AWAITING,
        )
        parent_ids = set(waiting.values_list("query_id", flat=True))
        waiting.update(records=records, updated_at=now)
        for parent in NetworkQuery.objects.select_for_update().filter(pk__in=parent_ids):
            _query_settle(parent)


# --- telling the person ---------------------------------------------------------------------------


def query_outcome_notify(*, query_id: int) -> bool:
    """Email the person, once per query, that their records are ready or the search failed; only a
    link, never health data, and nothing when they turned these emails off."""
    from accounts.mail import branded_email_send, portal_url

    query = NetworkQuery.objects.select_related("user").get(pk=query_id)
    if query.settled_at is None or query.notified_at is not None or not query.user.email_notifications:
        return False
    claimed = NetworkQuery.objects.filter(pk=query_id, notified_at__isnull=True).update(notified_at=timezone.now())
    if not claimed:
        return False
    kind = query_outcome(query=query)
    context = {
        "started": query.created_at,
        "no_records": kind == "no_records",
        "records_url": portal_url(reverse("records:summary")),
        "search_url": portal_url(reverse("ias:progress", args=[query.public_id])),
        "account_url": portal_url(reverse("account")),
    }
    try:
        # Written in the person's stored language (the site's default when they never chose one).
        with translation.override(query.user.language or settings.LANGUAGE_CODE):
            if kind in ("ready", "partial"):
                subject, template = gettext("Your records are ready"), "ias/email/records_ready"
            else:
                subject = gettext("Your search for records did not finish as hoped")
                template = "ias/email/search_failed"
            branded_email_send(to=query.user.email, subject=subject, template=template, context=context)
    except Exception:
        NetworkQuery.objects.filter(pk=query_id).update(notified_at=None)
        raise
    return True


# --- webhook events ------------------------------------------------------------------------------------


def webhook_event_reprocess(*, event_id: int) -> None:
    """Staff action: put a failed or processed event back in the queue."""
    from ias.tasks import event_process

    with transaction.atomic():
        WebhookEvent.objects.filter(pk=event_id).update(
            status=WebhookEvent.Status.PENDING,
            attempts=0,
            claimed_until=None,
            last_enqueued_at=timezone.now(),
        )
        transaction.on_commit(lambda: event_process.delay(event_id=event_id), robust=True)


# --- forgetting ---------------------------------------------------------------------------------------


def _deletion_schedule(*, network_patient_id: str, facility_id: str) -> PatientDeletion:
    from ias.tasks import patient_delete_at_network

    deletion, _ = PatientDeletion.objects.get_or_create(
        network_patient_id=network_patient_id, defaults={"facility_id": facility_id}
    )
    transaction.on_commit(lambda: patient_delete_at_network.delay(deletion_id=deletion.pk), robust=True)
    return deletion


def network_patient_forget(*, user_id: int) -> None:
    """Forget everything ias holds about this person, and durably ask the network to delete the patient."""
    with transaction.atomic():
        link = NetworkPatient.objects.select_for_update().filter(user_id=user_id).first()
        request_ids = [
            rid for rid in NetworkQuery.objects.filter(user_id=user_id).values_list("request_id", flat=True) if rid
        ]
        if request_ids:
            WebhookEvent.objects.filter(request_id__in=request_ids).delete()
        if link is not None and link.patient_id:
            WebhookEvent.objects.filter(network_patient_id=link.patient_id).delete()
            _deletion_schedule(network_patient_id=link.patient_id, facility_id=link.facility_id)
        NetworkQuery.objects.filter(user_id=user_id).delete()
        Aal2Challenge.objects.filter(user_id=user_id).delete()
        IdentityVerification.objects.filter(user_id=user_id).delete()
        if link is not None:
            link.delete()


def patient_delete_at_network(*, deletion_id: int) -> PatientDeletion:
    """Delete the patient at the network; a 404 means it is already gone."""
    deletion = PatientDeletion.objects.get(pk=deletion_id)
    if deletion.status == PatientDeletion.Status.DONE:
        return deletion
    PatientDeletion.objects.filter(pk=deletion_id).update(attempts=deletion.attempts + 1)
    try:
        with metriport.client() as api:
            api.patient_delete(patient_id=deletion.network_patient_id, facility_id=deletion.facility_id)
    except NetworkPermanentError as exc:
        if not exc.is_not_found:
            PatientDeletion.objects.filter(pk=deletion_id).update(last_error=str(exc)[:500])
            raise
    except NetworkTransientError as exc:
        PatientDeletion.objects.filter(pk=deletion_id).update(last_error=str(exc)[:500])
        raise
    PatientDeletion.objects.filter(pk=deletion_id).update(
        status=PatientDeletion.Status.DONE, done_at=timezone.now(), last_error=""
    )
    deletion.refresh_from_db()
    return deletion


def document_link_for(*, user_id: int, attachment_url: str, content_type: str = "") -> str:
    """A short-lived link to one of the person's documents, asked of the network on demand.

    The records pages call this through `RECORDS_DOCUMENT_URL_PROVIDER` (records sits below ias and
    cannot import it). The file name is the attachment URL's `fileName` parameter, else its path;
    the attachment comes from the person's own stored record, and the person must have a network link.
    """
    if not NetworkPatient.objects.filter(user_id=user_id, patient_id__isnull=False).exists():
        raise JourneyError("This person has no patient record at the network yet.")
    parts = urlsplit(attachment_url)
    file_name = (parse_qs(parts.query).get("fileName") or [""])[0] or unquote(parts.path).lstrip("/")
    if not file_name:
        raise JourneyError("The document has no file name the network would know.")
    conversion = "pdf" if content_type == "application/pdf" else None
    with metriport.client() as api:
        return api.document_download_url(file_name=file_name, conversion_type=conversion)
