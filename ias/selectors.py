"""Reads for the journey's views, always scoped to the signed-in person."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.crypto import decrypt_text
from accounts.selectors import consent_current
from ias.models import Aal2Challenge, IdentityVerification, NetworkPatient, NetworkQuery, QuerySource

AAL2_FRESH_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class JourneyStep:
    key: str
    url: str
    title: str
    description: str


def network_patient_for(*, user) -> NetworkPatient | None:
    return NetworkPatient.objects.filter(user=user).first()


def address_state_for(*, user) -> str:
    """The US state (two letters) of the address the person gave for the network, or ""."""
    encrypted = (
        NetworkPatient.objects.filter(user=user)
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
    verified = IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.VERIFIED).first()
    return verified or IdentityVerification.objects.filter(user=user).order_by("-created_at").first()


def identity_verified(*, user) -> IdentityVerification | None:
    return IdentityVerification.objects.filter(user=user, status=IdentityVerification.Status.VERIFIED).first()


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
        NetworkQuery.objects.filter(user=user, kind=NetworkQuery.Kind.NETWORK)
        .exclude(status__in=NetworkQuery.TERMINAL)
        .order_by("-created_at")
        .first()
    )


def query_latest(*, user) -> NetworkQuery | None:
    return NetworkQuery.objects.filter(user=user, kind=NetworkQuery.Kind.NETWORK).order_by("-created_at").first()


def query_for_user(*, user, public_id) -> NetworkQuery:
    """Another person's query is a 404."""
    return get_object_or_404(NetworkQuery, public_id=public_id, user=user, kind=NetworkQuery.Kind.NETWORK)


def queries_for_user(*, user):
    return NetworkQuery.objects.filter(user=user, kind=NetworkQuery.Kind.NETWORK).order_by("-created_at")


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


def journey_next_url(*, user) -> str:
    return journey_next_step(user=user).url


def progress_for(*, query: NetworkQuery) -> dict[str, Any]:
    """What the progress page and its JSON endpoint show: one row per source, plain words."""
    rows = []
    for source in query.sources.all():
        rows.append(
            {
                "type": source.source_type,
                "label": QuerySource.Type(source.source_type).label
                if source.source_type in QuerySource.Type.values
                else source.source_type,
                "status": source.status,
                "status_label": source.get_status_display(),
                "reason": gettext(source.reason) if source.reason else "",
                "records": source.records,
                # A failed source's webhook still links the record as it stands, but saying
                # "records saved" beside "failed" would read as a contradiction.
                "records_label": source.get_records_display()
                if source.records != QuerySource.Records.NONE and source.status == QuerySource.Status.COMPLETED
                else "",
                "badge": {
                    QuerySource.Status.COMPLETED: "ok",
                    QuerySource.Status.FAILED: "bad",
                    QuerySource.Status.REFUSED: "bad",
                    QuerySource.Status.TIMED_OUT: "warn",
                }.get(source.status, "info"),
                "done": source.is_terminal,
            }
        )
    return {
        "id": str(query.public_id),
        "status": query.status,
        "status_label": query.get_status_display(),
        "terminal": query.is_terminal,
        "reason": gettext(query.failure_reason) if query.failure_reason else "",
        "sources": rows,
        "records_url": _records_url(),
    }


def ias_export_for(*, user_id: int) -> dict[str, Any]:
    """What ias holds about the person, for their data export: no secrets, no session links."""
    from ias.services import network_patient_demographics

    link = NetworkPatient.objects.filter(user_id=user_id).first()
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
    from ias.services import network_patient_demographics

    link = NetworkPatient.objects.filter(user_id=user_id).first()
    given = network_patient_demographics(link=link) if link is not None else {}
    name = " ".join(part for part in (str(given.get("firstName", "")), str(given.get("lastName", ""))) if part.strip())
    try:
        birth_date = date.fromisoformat(str(given.get("dob", "")))
    except ValueError:
        birth_date = None
    return {"name": name.strip(), "birth_date": birth_date}
