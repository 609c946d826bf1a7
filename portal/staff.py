"""Reads for the staff console: one person's whole journey as a timeline, and finding a person.

Everything here is for staff pages that ask for a reason first and log the read (portal/admin.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.urls import reverse

from accounts.models import AccessLogEntry, User
from accounts.selectors import access_log_for, consent_history, emails_sent_to, users_matching_name
from ias.lookup import events_for_person, person_ids_for_event
from ias.models import (
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    PatientDeletion,
    QuerySource,
    WebhookEvent,
)
from portal.models import AccountDeletion
from records.models import Snapshot

TIMELINE_LIMIT = 200
RETRYABLE_SOURCE_STATES = (QuerySource.Status.FAILED, QuerySource.Status.TIMED_OUT)
RETRYABLE_RECORDS = (QuerySource.Records.FAILED, QuerySource.Records.AWAITING)


@dataclass
class Action:
    """A POST button on the person page: `name` is the action, `target` the row's id."""

    name: str
    target: int
    label: str


@dataclass
class Moment:
    at: datetime
    kind: str
    title: str
    status: str = ""
    detail: list[str] = field(default_factory=list)
    link: str = ""
    actions: list[Action] = field(default_factory=list)
    problem: bool = False


@dataclass
class Journey:
    person: User
    email_verified: bool
    factors: list[Authenticator]
    link: NetworkPatient | None
    timeline: list[Moment]
    counts: dict[str, int]
    truncated: list[str]


def person_ids_matching(*, text: str) -> set[int]:
    """People found by name (hashed tokens), network patient id, request id or webhook message id."""
    term = text.strip()
    if not term:
        return set()
    ids = set(users_matching_name(text=term).values_list("pk", flat=True))
    ids |= set(NetworkPatient.objects.filter(patient_id=term).values_list("user_id", flat=True))
    ids |= set(NetworkQuery.objects.filter(request_id=term).values_list("user_id", flat=True))
    event = WebhookEvent.objects.filter(message_id=term).first()
    if event is not None:
        ids |= person_ids_for_event(event=event)
    return ids


def _admin_url(model: str, pk: int) -> str:
    return reverse(f"admin:{model}_change", args=[pk])


def _actor_words(entry: AccessLogEntry) -> str:
    if entry.actor_kind == AccessLogEntry.ACTOR_STAFF:
        return f"Homeport support ({entry.actor.email if entry.actor else 'removed staff account'})"
    if entry.actor_id == entry.subject_id:
        return "The person"
    return entry.get_actor_kind_display()


def _query_moments(user: User) -> list[Moment]:
    moments = []
    queries = NetworkQuery.objects.filter(user=user).prefetch_related("sources").order_by("-created_at")
    for query in queries[:TIMELINE_LIMIT]:
        detail = [f"request id {query.request_id or '(none yet)'}"]
        if query.failure_reason:
            detail.append(f"why: {query.failure_reason}")
        if query.poll_count:
            detail.append(f"polled {query.poll_count} times")
        actions = []
        if not query.is_terminal and query.request_id:
            actions.append(Action("poll", query.pk, "Poll the network now"))
        for source in query.sources.all():
            words = f"{source.get_source_type_display()}: {source.get_status_display()}, {source.get_records_display()}"
            if source.reason:
                words += f" ({source.reason})"
            if source.network_message or source.http_status:
                words += f"; network said {source.http_status or ''} {source.network_message}".rstrip()
            detail.append(words)
            if source.status in RETRYABLE_SOURCE_STATES or source.records in RETRYABLE_RECORDS:
                actions.append(Action("retry_source", source.pk, f"Fetch {source.source_type} records again"))
        moments.append(
            Moment(
                at=query.created_at,
                kind="query",
                title=query.get_kind_display().capitalize(),
                status=query.get_status_display(),
                detail=detail,
                link=_admin_url("ias_networkquery", query.pk),
                actions=actions,
                problem=query.status in (NetworkQuery.Status.FAILED, NetworkQuery.Status.TIMED_OUT),
            )
        )
    return moments


def _event_moments(user: User) -> list[Moment]:
    moments = []
    for event in events_for_person(user=user).order_by("-received_at")[:TIMELINE_LIMIT]:
        detail = [f"message id {event.message_id}", f"attempts {event.attempts}"]
        if event.request_id:
            detail.append(f"request id {event.request_id}")
        if event.outcome:
            detail.append(f"outcome: {event.outcome}")
        if event.last_error:
            detail.append(f"last error: {event.last_error}")
        if not event.signature_valid:
            detail.append("signature did not match")
        actions = []
        if event.status != WebhookEvent.Status.PENDING or event.last_error:
            actions.append(Action("reprocess", event.pk, "Reprocess this event"))
        moments.append(
            Moment(
                at=event.received_at,
                kind="webhook",
                title=f"Webhook {event.event_type}",
                status=event.get_status_display(),
                detail=detail,
                link=_admin_url("ias_webhookevent", event.pk),
                actions=actions,
                problem=event.status == WebhookEvent.Status.FAILED,
            )
        )
    return moments


def _account_moments(user: User, factors: list[Authenticator]) -> list[Moment]:
    moments = [Moment(at=user.date_joined, kind="account", title="Account created", detail=[user.email])]
    if user.last_login:
        moments.append(Moment(at=user.last_login, kind="account", title="Last sign-in"))
    if user.mfa_locked_at:
        moments.append(Moment(at=user.mfa_locked_at, kind="account", title="Second factor locked", problem=True))
    for factor in factors:
        moments.append(
            Moment(
                at=factor.created_at,
                kind="factor",
                title=f"Second factor enrolled: {factor.get_type_display()}",
                detail=[f"last used {factor.last_used_at:%Y-%m-%d %H:%M}"] if factor.last_used_at else [],
            )
        )
    for consent in consent_history(user=user):
        moments.append(
            Moment(
                at=consent.given_at,
                kind="consent",
                title=f"Consent given ({consent.get_purpose_display()})",
                detail=[f"privacy notice v{consent.notice_version}"],
            )
        )
        if consent.revoked_at:
            moments.append(
                Moment(
                    at=consent.revoked_at,
                    kind="consent",
                    title="Consent revoked",
                    detail=[f"privacy notice v{consent.notice_version}"],
                )
            )
    return moments


def _identity_moments(user: User, link: NetworkPatient | None) -> list[Moment]:
    moments = []
    if link is not None:
        moments.append(
            Moment(
                at=link.created_at,
                kind="network",
                title="Network patient link created",
                detail=[f"patient id {link.patient_id or '(not created)'}", f"facility {link.facility_id}"],
                link=_admin_url("ias_networkpatient", link.pk),
            )
        )
        if link.updated_at and link.updated_at != link.created_at:
            moments.append(Moment(at=link.updated_at, kind="network", title="Network patient details updated"))
    for verification in IdentityVerification.objects.filter(user=user)[:TIMELINE_LIMIT]:
        moments.append(
            Moment(
                at=verification.created_at,
                kind="identity",
                title="Identity verification (IAL2)",
                status=verification.get_status_display(),
                detail=[f"session {verification.session_id}"]
                + ([f"why: {verification.failure_reason}"] if verification.failure_reason else []),
                link=_admin_url("ias_identityverification", verification.pk),
                problem=verification.status == IdentityVerification.Status.FAILED,
            )
        )
    for challenge in Aal2Challenge.objects.filter(user=user)[:TIMELINE_LIMIT]:
        moments.append(
            Moment(
                at=challenge.created_at,
                kind="aal2",
                title="Confirm it's you (AAL2)",
                status=challenge.get_status_display(),
                detail=([f"method {challenge.method}"] if challenge.method else [])
                + ([f"why: {challenge.failure_reason}"] if challenge.failure_reason else []),
                link=_admin_url("ias_aal2challenge", challenge.pk),
                problem=challenge.status == Aal2Challenge.Status.REFUSED,
            )
        )
    return moments


def _record_moments(user: User, link: NetworkPatient | None) -> list[Moment]:
    moments = []
    for snapshot in Snapshot.objects.filter(user=user)[:TIMELINE_LIMIT]:
        detail = [
            f"{snapshot.resource_count} resources: {snapshot.created_count} new, {snapshot.updated_count} updated, "
            f"{snapshot.unchanged_count} unchanged, {snapshot.retired_count} retired, {snapshot.skipped_count} skipped"
        ]
        if snapshot.counts_by_source:
            detail.append("by source: " + ", ".join(f"{k} {v}" for k, v in sorted(snapshot.counts_by_source.items())))
        if snapshot.failure_reason:
            detail.append(f"why: {snapshot.failure_reason}")
        moments.append(
            Moment(
                at=snapshot.started_at,
                kind="snapshot",
                title=f"Record snapshot from {snapshot.network_source or 'upload'}",
                status=snapshot.get_status_display(),
                detail=detail,
                link=_admin_url("records_snapshot", snapshot.pk),
                problem=snapshot.status == Snapshot.STATUS_FAILED,
            )
        )
    patient_ids = [link.patient_id] if link is not None and link.patient_id else []
    for deletion in PatientDeletion.objects.filter(network_patient_id__in=patient_ids):
        moments.append(
            Moment(
                at=deletion.created_at,
                kind="deletion",
                title="Deletion at the network requested",
                status=deletion.get_status_display(),
                detail=[f"attempts {deletion.attempts}"] + ([deletion.last_error] if deletion.last_error else []),
            )
        )
    for account_deletion in AccountDeletion.objects.filter(user_id_was=user.pk):
        moments.append(Moment(at=account_deletion.requested_at, kind="deletion", title="Account deletion requested"))
    return moments


def _email_and_access_moments(user: User) -> list[Moment]:
    moments = []
    for sent in emails_sent_to(user=user)[:TIMELINE_LIMIT]:
        moments.append(
            Moment(
                at=sent.sent_at,
                kind="email",
                title=f"Email sent: {sent.subject or sent.template_prefix}",
                detail=[f"to {sent.to_email}", sent.template_prefix]
                + ([f"resent by {sent.resent_by.email}"] if sent.resent_by else []),
                actions=[Action("resend_email", sent.pk, "Send this email again")],
            )
        )
    for entry in access_log_for(subject=user)[:TIMELINE_LIMIT]:
        kind = "document" if entry.action == "records:document" else "access"
        detail = [f"by {_actor_words(entry)}"] + ([f"reason: {entry.reason}"] if entry.reason else [])
        if entry.target:
            detail.append(entry.target)
        moments.append(Moment(at=entry.at, kind=kind, title=f"Opened: {entry.action_label}", detail=detail))
    return moments


def person_journey(*, user: User) -> Journey:
    """Everything that happened to one person, newest first, with the actions staff may take."""
    factors = list(
        Authenticator.objects.filter(user=user).exclude(type=Authenticator.Type.RECOVERY_CODES).order_by("created_at")
    )
    link = NetworkPatient.objects.filter(user=user).first()
    timeline: list[Moment] = [
        *_account_moments(user, factors),
        *_identity_moments(user, link),
        *_query_moments(user),
        *_event_moments(user),
        *_record_moments(user, link),
        *_email_and_access_moments(user),
    ]
    timeline.sort(key=lambda moment: moment.at, reverse=True)
    counts: dict[str, int] = {}
    for moment in timeline:
        counts[moment.kind] = counts.get(moment.kind, 0) + 1
    truncated = [kind for kind, count in counts.items() if count >= TIMELINE_LIMIT]
    return Journey(
        person=user,
        email_verified=EmailAddress.objects.filter(user=user, verified=True).exists(),
        factors=factors,
        link=link,
        timeline=timeline,
        counts=counts,
        truncated=truncated,
    )
