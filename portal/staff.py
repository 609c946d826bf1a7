"""Reads for the staff console: one person's whole journey as a timeline, and finding a person.

Everything here is for staff pages that ask for a reason first and log the read (portal/admin.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.urls import reverse
from django.utils.translation import gettext, gettext_noop

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
from ias.network import IDENTITY_NETWORK
from portal.models import AccountDeletion
from records.models import Snapshot

TIMELINE_LIMIT = 200
RETRYABLE_SOURCE_STATES = (QuerySource.Status.FAILED, QuerySource.Status.TIMED_OUT)
RETRYABLE_RECORDS = (QuerySource.Records.FAILED, QuerySource.Records.AWAITING)
# What each kind of moment is called on the page (the kind itself names its colour in the CSS).
KIND_WORDS = {
    "account": gettext_noop("account"),
    "factor": gettext_noop("factor"),
    "consent": gettext_noop("consent"),
    "network": gettext_noop("network"),
    "identity": gettext_noop("identity"),
    "aal2": gettext_noop("aal2"),
    "query": gettext_noop("query"),
    "webhook": gettext_noop("webhook"),
    "snapshot": gettext_noop("snapshot"),
    "deletion": gettext_noop("deletion"),
    "email": gettext_noop("email"),
    "document": gettext_noop("document"),
    "access": gettext_noop("access"),
}


def kind_words(kind: str) -> str:
    return gettext(KIND_WORDS[kind]) if kind in KIND_WORDS else kind


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

    @property
    def kind_label(self) -> str:
        return kind_words(self.kind)


@dataclass
class Journey:
    person: User
    email_verified: bool
    factors: list[Authenticator]
    link: NetworkPatient | None
    timeline: list[Moment]
    counts: dict[str, int]
    truncated: list[str]

    @property
    def count_labels(self) -> list[tuple[str, str, int]]:
        """(kind, its words, how many) for the tags above the timeline."""
        return [(kind, kind_words(kind), count) for kind, count in self.counts.items()]

    @property
    def truncated_words(self) -> str:
        return ", ".join(kind_words(kind) for kind in self.truncated)


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


def _why(reason: str) -> str:
    return gettext("why: %(reason)s") % {"reason": reason}


def _attempts(count: int) -> str:
    return gettext("attempts %(count)s") % {"count": count}


def _notice(version: str) -> str:
    return gettext("privacy notice v%(version)s") % {"version": version}


def _actor_words(entry: AccessLogEntry) -> str:
    if entry.actor_kind == AccessLogEntry.ACTOR_STAFF:
        who = entry.actor.email if entry.actor else gettext("removed staff account")
        return gettext("Homeport support (%(who)s)") % {"who": who}
    if entry.actor_id == entry.subject_id:
        return gettext("The person")
    return entry.get_actor_kind_display()


def _query_moments(user: User) -> list[Moment]:
    moments = []
    queries = NetworkQuery.objects.filter(user=user).prefetch_related("sources").order_by("-created_at")
    for query in queries[:TIMELINE_LIMIT]:
        detail = [gettext("request id %(id)s") % {"id": query.request_id or gettext("(none yet)")}]
        if query.failure_reason:
            detail.append(_why(query.failure_reason))
        if query.poll_count:
            detail.append(gettext("polled %(count)s times") % {"count": query.poll_count})
        actions = []
        if not query.is_terminal and query.request_id:
            actions.append(Action("poll", query.pk, gettext("Poll the network now")))
        for source in query.sources.all():
            words = f"{source.get_source_type_display()}: {source.get_status_display()}, {source.get_records_display()}"
            if source.reason:
                words += f" ({source.reason})"
            if source.network_message or source.http_status:
                said = f"{source.http_status or ''} {source.network_message}".strip()
                words += "; " + gettext("network said %(answer)s") % {"answer": said}
            detail.append(words)
            if source.status in RETRYABLE_SOURCE_STATES or source.records in RETRYABLE_RECORDS:
                label = gettext("Fetch %(source)s records again") % {"source": source.source_type}
                actions.append(Action("retry_source", source.pk, label))
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
        detail = [gettext("message id %(id)s") % {"id": event.message_id}, _attempts(event.attempts)]
        if event.request_id:
            detail.append(gettext("request id %(id)s") % {"id": event.request_id})
        if event.outcome:
            detail.append(gettext("outcome: %(outcome)s") % {"outcome": event.outcome})
        if event.last_error:
            detail.append(gettext("last error: %(error)s") % {"error": event.last_error})
        if not event.signature_valid:
            detail.append(gettext("signature did not match"))
        actions = []
        if event.status != WebhookEvent.Status.PENDING or event.last_error:
            actions.append(Action("reprocess", event.pk, gettext("Reprocess this event")))
        moments.append(
            Moment(
                at=event.received_at,
                kind="webhook",
                title=gettext("Webhook %(type)s") % {"type": event.event_type},
                status=event.get_status_display(),
                detail=detail,
                link=_admin_url("ias_webhookevent", event.pk),
                actions=actions,
                problem=event.status == WebhookEvent.Status.FAILED,
            )
        )
    return moments


def _account_moments(user: User, factors: list[Authenticator]) -> list[Moment]:
    moments = [Moment(at=user.date_joined, kind="account", title=gettext("Account created"), detail=[user.email])]
    if user.last_login:
        moments.append(Moment(at=user.last_login, kind="account", title=gettext("Last sign-in")))
    if user.mfa_locked_at:
        moments.append(
            Moment(at=user.mfa_locked_at, kind="account", title=gettext("Second factor locked"), problem=True)
        )
    for factor in factors:
        moments.append(
            Moment(
                at=factor.created_at,
                kind="factor",
                title=gettext("Second factor enrolled: %(type)s") % {"type": factor.get_type_display()},
                detail=[gettext("last used %(when)s") % {"when": f"{factor.last_used_at:%Y-%m-%d %H:%M}"}]
                if factor.last_used_at
                else [],
            )
        )
    for consent in consent_history(user=user):
        moments.append(
            Moment(
                at=consent.given_at,
                kind="consent",
                title=gettext("Consent given (%(purpose)s)") % {"purpose": consent.get_purpose_display()},
                detail=[_notice(consent.notice_version)],
            )
        )
        if consent.revoked_at:
            moments.append(
                Moment(
                    at=consent.revoked_at,
                    kind="consent",
                    title=gettext("Consent revoked"),
                    detail=[_notice(consent.notice_version)],
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
                title=gettext("Network patient link created"),
                detail=[
                    gettext("patient id %(id)s") % {"id": link.patient_id or gettext("(not created)")},
                    gettext("facility %(id)s") % {"id": link.facility_id},
                ],
                link=_admin_url("ias_networkpatient", link.pk),
            )
        )
        if link.updated_at and link.updated_at != link.created_at:
            moments.append(Moment(at=link.updated_at, kind="network", title=gettext("Network patient details updated")))
    for verification in IdentityVerification.objects.filter(user=user)[:TIMELINE_LIMIT]:
        moments.append(
            Moment(
                at=verification.created_at,
                kind="identity",
                title=gettext("Identity verification (IAL2)"),
                status=verification.get_status_display(),
                detail=[gettext("session %(id)s") % {"id": verification.session_id}]
                + ([_why(verification.failure_reason)] if verification.failure_reason else []),
                link=_admin_url("ias_identityverification", verification.pk),
                problem=verification.status == IdentityVerification.Status.FAILED,
            )
        )
    for challenge in Aal2Challenge.objects.filter(user=user)[:TIMELINE_LIMIT]:
        moments.append(
            Moment(
                at=challenge.created_at,
                kind="aal2",
                title=gettext("Confirm it's you (AAL2)"),
                status=challenge.get_status_display(),
                detail=([gettext("method %(method)s") % {"method": challenge.method}] if challenge.method else [])
                + ([_why(challenge.failure_reason)] if challenge.failure_reason else []),
                link=_admin_url("ias_aal2challenge", challenge.pk),
                problem=challenge.status == Aal2Challenge.Status.REFUSED,
            )
        )
    return moments


def _record_moments(user: User, link: NetworkPatient | None) -> list[Moment]:
    moments = []
    for snapshot in Snapshot.objects.filter(user=user)[:TIMELINE_LIMIT]:
        detail = [
            gettext(
                "%(total)s resources: %(new)s new, %(updated)s updated, %(unchanged)s unchanged, "
                "%(retired)s retired, %(skipped)s skipped"
            )
            % {
                "total": snapshot.resource_count,
                "new": snapshot.created_count,
                "updated": snapshot.updated_count,
                "unchanged": snapshot.unchanged_count,
                "retired": snapshot.retired_count,
                "skipped": snapshot.skipped_count,
            }
        ]
        if snapshot.counts_by_source:
            by_source = ", ".join(f"{k} {v}" for k, v in sorted(snapshot.counts_by_source.items()))
            detail.append(gettext("by source: %(counts)s") % {"counts": by_source})
        if snapshot.failure_reason:
            detail.append(_why(snapshot.failure_reason))
        moments.append(
            Moment(
                at=snapshot.started_at,
                kind="snapshot",
                title=gettext("Record snapshot from %(source)s")
                % {"source": snapshot.network_source or gettext("upload")},
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
                title=gettext("Deletion at the network requested"),
                status=deletion.get_status_display(),
                detail=[_attempts(deletion.attempts)] + ([deletion.last_error] if deletion.last_error else []),
            )
        )
    for account_deletion in AccountDeletion.objects.filter(user_id_was=user.pk):
        moments.append(
            Moment(at=account_deletion.requested_at, kind="deletion", title=gettext("Account deletion requested"))
        )
    return moments


def _email_and_access_moments(user: User) -> list[Moment]:
    moments = []
    for sent in emails_sent_to(user=user)[:TIMELINE_LIMIT]:
        moments.append(
            Moment(
                at=sent.sent_at,
                kind="email",
                title=gettext("Email sent: %(subject)s") % {"subject": sent.subject or sent.template_prefix},
                detail=[gettext("to %(address)s") % {"address": sent.to_email}, sent.template_prefix]
                + ([gettext("resent by %(who)s") % {"who": sent.resent_by.email}] if sent.resent_by else []),
                actions=[Action("resend_email", sent.pk, gettext("Send this email again"))],
            )
        )
    for entry in access_log_for(subject=user)[:TIMELINE_LIMIT]:
        kind = "document" if entry.action == "records:document" else "access"
        detail = [gettext("by %(who)s") % {"who": _actor_words(entry)}]
        if entry.reason:
            detail.append(gettext("reason: %(reason)s") % {"reason": entry.reason_words})
        if entry.target:
            detail.append(entry.target)
        title = gettext("Opened: %(what)s") % {"what": gettext(entry.action_label)}
        moments.append(Moment(at=entry.at, kind=kind, title=title, detail=detail))
    return moments


def person_journey(*, user: User) -> Journey:
    """Everything that happened to one person, newest first, with the actions staff may take."""
    factors = list(
        Authenticator.objects.filter(user=user).exclude(type=Authenticator.Type.RECOVERY_CODES).order_by("created_at")
    )
    link = NetworkPatient.objects.filter(user=user, network=IDENTITY_NETWORK).first()
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
