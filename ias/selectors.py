"""Reads for the journey's views, always scoped to the signed-in person."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from accounts.crypto import decrypt_bytes, decrypt_text
from accounts.selectors import consent_current
from ias import particle, wording
from ias.models import (
    AAL2_FRESH_FOR,
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    QuerySource,
    WebhookEvent,
)
from ias.network import IDENTITY_NETWORK

# Where the ingest publishes how many items it has saved so far (the progress page reads it).
SAVING_COUNT_KEY = "ias:saving:{user_id}"


def event_body(event: WebhookEvent) -> dict[str, Any]:
    """A stored webhook body, decrypted and parsed ({} once it was discarded)."""
    if not event.body_encrypted:
        return {}
    return orjson.loads(decrypt_bytes(bytes(event.body_encrypted)))


def source_events_pending(*, event: WebhookEvent, after: datetime) -> list[WebhookEvent]:
    """The other `network-query.*` events for the same network patient still waiting to be processed
    whose data is newer than `after` (sent then, else received then), newest first: the bundles
    they link are newer copies of the whole record than an older event's.

    Asked several times while one event saves (before its download, once it is in, during the save),
    nearly always to find nothing: one statement built once per process, not a queryset compiled
    again on every ask."""
    if not event.network_patient_id:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    field = WebhookEvent._meta.get_field("received_at")
    params = [
        event.network,
        event.network_patient_id,
        "network-query.%",
        WebhookEvent.Status.PENDING,
        event.pk,
        field.get_db_prep_value(after, db),
    ]
    return list(WebhookEvent.objects.raw(source_events_pending_statement(), params))


@functools.cache
def source_events_pending_statement() -> str:
    meta = WebhookEvent._meta
    q = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(q(str(f.column)) for f in meta.concrete_fields)
    data_at = f"COALESCE({q('sent_at')}, {q('received_at')})"
    return (
        f"SELECT {columns} FROM {q(meta.db_table)}"  # noqa: S608 - names are ours
        f" WHERE {q('network')} = %s AND {q('network_patient_id')} = %s AND {q('event_type')} LIKE %s"
        f" AND {q('status')} = %s AND {q('id')} <> %s AND {data_at} > %s"
        f" ORDER BY {data_at} DESC, {q('id')} DESC"
    )


def network_patient_demographics(*, link: NetworkPatient) -> dict[str, Any]:
    """The demographics last sent to the network (decrypted), or {}."""
    if not link.demographics_encrypted:
        return {}
    return json.loads(decrypt_text(link.demographics_encrypted))


@dataclass(frozen=True)
class JourneyStep:
    key: str
    url: str
    title: str
    description: str


NETWORK_LABELS = {"metriport": "Metriport", "particle": "Particle"}


def networks_registering() -> list[str]:
    """The networks a person is registered with and searched at: the identity network always,
    Particle too when it is on (enabled and given a purpose of use)."""
    keys = [IDENTITY_NETWORK]
    if not particle.off_reason():
        keys.append(particle.NETWORK)
    return keys


# What each purpose of use means, for the person; individual access is the identity network's.
PURPOSE_WORDS = {
    "IAS": gettext_noop("individual access: you asking for your own records"),
    "TREATMENT": gettext_noop("treatment: the care you receive from the clinic that offers you Homeport"),
    "PAYMENT": gettext_noop("payment: paying for the care you receive"),
    "OPERATIONS": gettext_noop("health care operations: running the clinic that offers you Homeport"),
}


def networks_asked() -> list[dict[str, str]]:
    """Each network this deployment asks for the person's records, and the purpose it is asked under
    (the consent page and the privacy notice name them)."""
    asked = []
    for key in networks_registering():
        purpose = "IAS" if key == IDENTITY_NETWORK else settings.PARTICLE_PURPOSE_OF_USE
        asked.append({"network": key, "label": NETWORK_LABELS[key], "purpose": gettext(PURPOSE_WORDS[purpose])})
    return asked


def network_patient_for(*, user) -> NetworkPatient | None:
    """The person's link at the identity network (the one their details were first saved to)."""
    return NetworkPatient.objects.filter(user=user, network=IDENTITY_NETWORK).first()


def address_state_for(*, user) -> str:
    """The US state (two letters) of the address the person gave for the network, or ""."""
    encrypted = (
        NetworkPatient.objects.filter(user=user, network=IDENTITY_NETWORK)
        .exclude(demographics_encrypted="")
        .values_list("demographics_encrypted", flat=True)
    ).first()
    if not encrypted:
        return ""
    try:
        demographics = json.loads(decrypt_text(encrypted))
        address = (demographics.get("address") or [{}])[0]
        state = address.get("state")
    except Exception:  # unreadable stored demographics: the default zone, never a broken page
        return ""
    return state.strip().upper()[:2] if isinstance(state, str) else ""


def identity_latest(*, user) -> IdentityVerification | None:
    """The newest verified check, else the newest of any kind: one query over the person's few checks,
    since the shell of every page asks."""
    checks = list(IdentityVerification.objects.filter(user=user).order_by("-created_at", "-id"))
    verified = next((c for c in checks if c.status == IdentityVerification.Status.VERIFIED), None)
    return verified or (checks[0] if checks else None)


def identity_verified(*, user) -> IdentityVerification | None:
    return IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.VERIFIED).first()


def identity_failures(*, user) -> int:
    """Identity checks the network said did not succeed (expired ones do not count)."""
    return IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.FAILED).count()


def aal2_fresh(*, user) -> Aal2Challenge | None:
    """A passed AAL2 challenge not yet spent on a query and younger than 15 minutes."""
    return (
        Aal2Challenge.objects.filter(
            user=user,
            status=Aal2Challenge.Status.VERIFIED,
            verified_at__gte=timezone.now() - AAL2_FRESH_FOR,
        )
        .order_by("-verified_at")
        .first()
    )


def query_active(*, user) -> NetworkQuery | None:
    return (
        NetworkQuery.objects.filter(user=user, kind=NetworkQuery.Kind.NETWORK, parent__isnull=True)
        .exclude(status__in=NetworkQuery.TERMINAL)
        .order_by("-created_at")
        .first()
    )


def query_latest(*, user) -> NetworkQuery | None:
    return (
        NetworkQuery.objects.filter(user=user, kind=NetworkQuery.Kind.NETWORK, parent__isnull=True)
        .order_by("-created_at")
        .first()
    )


def query_for_user(*, user, public_id) -> NetworkQuery:
    """Another person's query is a 404."""
    return get_object_or_404(
        NetworkQuery, public_id=public_id, user=user, kind=NetworkQuery.Kind.NETWORK, parent__isnull=True
    )


def queries_for_user(*, user):
    """The person's searches (a query another network ran alongside one is part of it)."""
    return NetworkQuery.objects.filter(user=user, kind=NetworkQuery.Kind.NETWORK, parent__isnull=True).order_by(
        "-created_at"
    )


def _records_url() -> str:
    try:
        return reverse("records:summary")
    except NoReverseMatch:
        return reverse("home")


def journey_next_step(*, user) -> JourneyStep:
    """Where the person stands in the journey, and the one thing to do next."""
    if not getattr(user, "is_authenticated", False):
        return JourneyStep("sign-in", reverse("account_login"), gettext("Sign in"), gettext("Sign in to continue."))
    if consent_current(user=user) is None:
        return JourneyStep(
            "consent",
            reverse("ias:consent"),
            gettext("Give your consent"),
            gettext("Read what we will fetch and agree to it."),
        )
    link = network_patient_for(user=user)
    if link is None or not link.patient_id:
        return JourneyStep(
            "demographics",
            reverse("ias:demographics"),
            gettext("Enter your details"),
            gettext("Your name, date of birth and address, so the networks can find your records."),
        )
    identity = identity_latest(user=user)
    if identity is None or identity.status != IdentityVerification.Status.VERIFIED:
        if identity is not None and identity.status == IdentityVerification.Status.PENDING:
            return JourneyStep(
                "identity-wait",
                reverse("ias:identity_wait"),
                gettext("Identity check in progress"),
                gettext("We are waiting for the result of your identity check."),
            )
        return JourneyStep(
            "identity",
            reverse("ias:identity"),
            gettext("Verify your identity"),
            gettext("A one-time identity check with the network's identity service."),
        )
    active = query_active(user=user)
    if active is not None:
        return JourneyStep(
            "progress",
            reverse("ias:progress", args=[active.public_id]),
            gettext("Your search is running"),
            gettext("See which sources have answered so far."),
        )
    if aal2_fresh(user=user) is not None:
        return JourneyStep(
            "sources", reverse("ias:sources"), gettext("Choose where to search"), gettext("Pick the sources to search.")
        )
    if query_latest(user=user) is not None:
        return JourneyStep(
            "records",
            _records_url(),
            gettext("Read your record"),
            gettext("Your record is ready. To fetch it again, confirm it's you and start a new search."),
        )
    return JourneyStep(
        "aal2",
        reverse("ias:aal2"),
        gettext("Confirm it's you"),
        gettext("A quick security check with the network before each search."),
    )


@dataclass(frozen=True)
class JourneyStatus:
    """What the shell (menu, home, record pages) says about the person's searches."""

    last_search_at: Any
    identity: str  # "verified", "pending", "failed", "expired" or "none"
    identity_url: str
    running_url: str  # the latest search's page while it runs or its records are still being added
    can_search: bool  # identity done and nothing running: "Get new records" leads to a new search
    new_search_url: str
    last_outcome: str = ""  # of the latest finished search: ready, partial, no_records or failed

    @property
    def last_search_day(self) -> str:
        """The day of the last search in the person's zone, for the menu ("Dec 2, 2026")."""
        from records import fhir

        if self.last_search_at is None:
            return ""
        return fhir.format_fhir_date(self.last_search_at.astimezone(fhir.display_zone()).date().isoformat())


def journey_status(*, user) -> JourneyStatus:
    """A few small queries; no health data."""
    identity = identity_latest(user=user)
    latest = query_latest(user=user)
    running_url, last_outcome = "", ""
    if latest is not None:
        sources = list(latest.sources.all())
        if not latest.is_terminal or not all(s.is_settled for s in sources):
            running_url = reverse("ias:progress", args=[latest.public_id])
        else:
            last_outcome = _outcome(query=latest, sources=sources)
    state = identity.status if identity is not None else "none"
    return JourneyStatus(
        last_search_at=latest.created_at if latest is not None else None,
        identity=state,
        identity_url={"pending": reverse("ias:identity_wait"), "none": reverse("start")}.get(
            state, reverse("ias:identity")
        ),
        running_url=running_url,
        can_search=state == IdentityVerification.Status.VERIFIED and not running_url,
        new_search_url=reverse("ias:aal2"),
        last_outcome=last_outcome,
    )


def journey_next_url(*, user) -> str:
    return journey_next_step(user=user).url


def records_saving_count(*, user_id: int) -> int | None:
    """How many resources the save running for this person has written so far (None: no count yet)."""
    try:
        value = caches["progress"].get(SAVING_COUNT_KEY.format(user_id=user_id))
    except Exception:
        return None
    return value if isinstance(value, int) else None


RETRYABLE = (QuerySource.Status.FAILED, QuerySource.Status.REFUSED, QuerySource.Status.TIMED_OUT)


def _source_label(source_type: str) -> str:
    if source_type == "all":  # a network that reports one state for every source it reaches
        return gettext("All its sources")
    if source_type in QuerySource.Type.values:
        return str(QuerySource.Type(source_type).label)
    return source_type


def source_retryable(*, source: QuerySource) -> bool:
    return source.status in RETRYABLE or (
        source.status == QuerySource.Status.COMPLETED and source.records == QuerySource.Records.FAILED
    )


def _source_row_view(source: QuerySource, saving_count: int | None, network_label: str) -> dict[str, Any]:
    """One source in words: what it is doing now, and whether it is finished for the person."""
    badge, label, detail = "info", gettext("Searching…"), ""
    status, records = source.status, source.records
    reason = gettext(source.reason) if source.reason else ""
    if status in (QuerySource.Status.REQUESTED, QuerySource.Status.PROCESSING):
        detail = gettext("Waiting for this source to answer.")
        if records == QuerySource.Records.FETCHED:
            detail = gettext("The first records are saved; this source is still searching.")
        elif records == QuerySource.Records.SAVING:
            detail = gettext("Saving the first records; this source is still searching.")
    elif status == QuerySource.Status.COMPLETED:
        if records == QuerySource.Records.NONE:
            label = gettext("Getting records…")
            detail = gettext("This source answered; its records are on their way.")
        elif records == QuerySource.Records.SAVING:
            label = gettext("Saving…")
            detail = gettext("Saving your records…")
            if saving_count:
                detail = gettext("Saving your records… %(count)s so far.") % {"count": f"{saving_count:,}"}
        elif records == QuerySource.Records.AWAITING:
            label, detail = gettext("Getting a fresh copy…"), gettext(wording.RECORDS_LINK_EXPIRED)
        elif records == QuerySource.Records.FETCHED:
            badge, label = "ok", gettext("Done")
            # Each source's bundle is the network's whole record as of then: the count is that copy's size,
            # said in the past and with the network's name, since a later copy or another network's adds to it.
            detail = (
                ngettext(
                    "Saved a copy of your record from %(network)s: %(count)s item.",
                    "Saved a copy of your record from %(network)s: %(count)s items.",
                    source.records_saved,
                )
                % {"network": network_label, "count": f"{source.records_saved:,}"}
                if source.records_saved
                else gettext("Records saved.")
            )
        elif records == QuerySource.Records.SKIPPED:
            badge, label = "ok", gettext("Done")
            detail = gettext("A newer copy of your whole record was already saved.")
        elif records == QuerySource.Records.EMPTY:
            badge, label = "neutral", gettext("No records")
            detail = gettext("This source found no records for you.")
        else:
            badge, label = "bad", gettext("Not saved")
            detail = gettext("The records arrived but could not be saved. You can ask this source again.")
    elif status == QuerySource.Status.TIMED_OUT:
        badge, label, detail = "warn", gettext("No answer"), reason or gettext(wording.SOURCE_TIMED_OUT)
    elif status == QuerySource.Status.REFUSED:
        badge, label, detail = "bad", gettext("Could not start"), reason
    else:
        badge, label, detail = "bad", gettext("Failed"), reason or gettext(wording.SOURCE_FAILED)
    return {
        "type": source.source_type,
        "label": _source_label(source.source_type),
        "status": status,
        "records": records,
        "status_label": label,
        "reason": reason,
        "detail": detail,
        "badge": badge,
        "done": source.is_settled,
        "retry": source_retryable(source=source),
    }


def _outcome_words(outcome: str) -> tuple[str, str]:
    return {
        "ready": (gettext("Done"), "ok"),
        "partial": (gettext("Partly done"), "warn"),
        "no_records": (gettext("No records found"), "neutral"),
        "failed": (gettext("Not completed"), "bad"),
    }[outcome]


def _network_progress(query: NetworkQuery, sources: list[QuerySource]) -> dict[str, Any]:
    """One network's part of a search: its sources in words, and where it stands overall."""
    saving = any(s.records == QuerySource.Records.SAVING for s in sources)
    count = records_saving_count(user_id=query.user_id) if saving else None
    network_label = NETWORK_LABELS.get(query.network, query.network)
    rows = [_source_row_view(source, count, network_label) for source in sources]
    settled = query.is_terminal and all(s.is_settled for s in sources)
    if not query.is_terminal:
        label, badge = gettext("Searching"), "info"
    elif not settled:
        label, badge = gettext("Still adding records"), "info"
    else:
        label, badge = _outcome_words(_outcome(query=query, sources=sources))
    return {
        "network": query.network,
        "label": network_label,
        "status_label": label,
        "badge": badge,
        "terminal": query.is_terminal,
        "settled": settled,
        "reason": gettext(query.failure_reason) if query.failure_reason else "",
        "sources": rows,
    }


def progress_for(*, query: NetworkQuery) -> dict[str, Any]:
    """What the progress page and its JSON endpoint show: one row per source, plain words, and
    whether every source's records are in (`settled`: the page stops updating only then). A search
    that also asked another network lists it under `networks`, side by side with the first; the
    search is settled only once every network's records are in."""
    sources = list(query.sources.all())
    own = _network_progress(query, sources)
    companions = (
        NetworkQuery.objects.filter(parent=query, kind=NetworkQuery.Kind.NETWORK)
        .order_by("created_at")
        .prefetch_related("sources")
    )
    parts = [own]
    every_source = list(sources)
    for companion in companions:
        theirs = list(companion.sources.all())
        parts.append(_network_progress(companion, theirs))
        every_source += theirs
    terminal = all(part["terminal"] for part in parts)
    settled = all(part["settled"] for part in parts)
    label, badge = own["status_label"], own["badge"]
    if len(parts) > 1 and not terminal:
        label, badge = gettext("Searching"), "info"
    elif len(parts) > 1 and not settled:
        label, badge = gettext("Still adding records"), "info"
    elif len(parts) > 1:
        label, badge = _outcome_words(_outcome(query=query, sources=every_source))
    return {
        "id": str(query.public_id),
        "status": query.status,
        "status_label": label,
        "badge": badge,
        "terminal": terminal,
        "settled": settled,
        "outcome": _outcome(query=query, sources=every_source) if settled else "",
        "reason": own["reason"],
        "sources": own["sources"],
        "networks": parts,
        "retry_sources": [r["type"] for r in own["sources"] if r["retry"]],
        "records_url": _records_url(),
    }


def _outcome(*, query: NetworkQuery, sources: list[QuerySource]) -> str:
    saved = [s for s in sources if s.records in (QuerySource.Records.FETCHED, QuerySource.Records.SKIPPED)]
    if saved:
        return "partial" if any(source_retryable(source=s) for s in sources) else "ready"
    if sources and all(
        s.status == QuerySource.Status.COMPLETED and s.records == QuerySource.Records.EMPTY for s in sources
    ):
        return "no_records"
    return "failed"


def query_outcome(*, query: NetworkQuery) -> str:
    """How a finished search ended for the person, over every network it asked: ready, partial,
    no_records or failed."""
    sources = list(QuerySource.objects.filter(Q(query=query) | Q(query__parent=query, query__kind=query.kind)))
    return _outcome(query=query, sources=sources)


def ias_export_for(*, user_id: int) -> dict[str, Any]:
    """What ias holds about the person, for their data export: no secrets, no session links."""
    link = NetworkPatient.objects.filter(user_id=user_id, network=IDENTITY_NETWORK).first()
    out: dict[str, Any] = {"network": settings.METRIPORT_BASE_URL, "patient": None}
    if link is not None:
        out["patient"] = {
            "network_patient_id": link.patient_id,
            "facility_id": link.facility_id,
            "demographics_sent": network_patient_demographics(link=link),
            "created_at": link.created_at.isoformat(),
            "updated_at": link.updated_at.isoformat(),
        }
    out["identity_checks"] = [
        {
            "status": v.status,
            "started_at": v.created_at.isoformat(),
            "verified_at": v.verified_at.isoformat() if v.verified_at else None,
        }
        for v in IdentityVerification.objects.filter(user_id=user_id).order_by("created_at")
    ]
    out["security_checks"] = [
        {
            "status": c.status,
            "started_at": c.created_at.isoformat(),
            "verified_at": c.verified_at.isoformat() if c.verified_at else None,
        }
        for c in Aal2Challenge.objects.filter(user_id=user_id).order_by("created_at")
    ]
    out["queries"] = [
        {
            "kind": q.kind,
            "request_id": q.request_id,
            "status": q.status,
            "created_at": q.created_at.isoformat(),
            "completed_at": q.completed_at.isoformat() if q.completed_at else None,
            "sources": [
                {"type": s.source_type, "status": s.status, "reason": s.reason, "records": s.records}
                for s in q.sources.all()
            ],
        }
        for q in NetworkQuery.objects.filter(user_id=user_id).order_by("created_at").prefetch_related("sources")
    ]
    return out


def person_details_for(*, user_id: int) -> dict[str, Any]:
    """The name and date of birth the person gave in the journey, for the documents they take away
    (records' PDF summary reads them through RECORDS_PERSON_DETAILS_PROVIDER; records sits below ias).
    Missing pieces are empty; `birth_date` is a date or None."""
    link = NetworkPatient.objects.filter(user_id=user_id, network=IDENTITY_NETWORK).first()
    given = network_patient_demographics(link=link) if link is not None else {}
    name = " ".join(part for part in (str(given.get("firstName", "")), str(given.get("lastName", ""))) if part.strip())
    try:
        birth_date = date.fromisoformat(str(given.get("dob", "")))
    except ValueError:
        birth_date = None
    return {"name": name.strip(), "birth_date": birth_date}
