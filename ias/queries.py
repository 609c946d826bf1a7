"""A person's search for records: started with their fresh AAL2 session, polled when it goes quiet,
timed out when it never finishes, and the outcome email once it settles.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from accounts.selectors import consent_current
from ias import particle_events, wording
from ias.delivery import consolidated_query_start, consolidated_result_apply
from ias.errors import (
    Aal2Refused,
    JourneyError,
    NetworkUnavailable,
    QueryRefused,
)
from ias.models import (
    AAL2_FRESH_FOR,
    Aal2Challenge,
    NetworkPatient,
    NetworkQuery,
    QuerySource,
)
from ias.network import (
    IDENTITY_NETWORK,
    NetworkPermanentError,
    NetworkTransientError,
    QueryRequest,
    SourceChoice,
    network_for,
)
from ias.particle_network import SOURCE as COMPANION_SOURCE
from ias.query_state import query_apply_network_status, query_recompute, query_settle, source_advance
from ias.selectors import networks_registering, query_outcome

log = logging.getLogger(__name__)


def network_query_start(*, user, sources: SourceChoice) -> NetworkQuery:
    """Spend this person's fresh AAL2 session on one IAS network query."""
    if consent_current(user=user) is None:
        raise JourneyError(gettext_noop("Please give your consent first."), step="consent")
    link = NetworkPatient.objects.filter(user=user, network=IDENTITY_NETWORK, patient_id__isnull=False).first()
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
            query = NetworkQuery.objects.create(user=user, kind=NetworkQuery.Kind.NETWORK, network=link.network)
            QuerySource.objects.bulk_create([QuerySource(query=query, source_type=name) for name in sources.enabled()])
    if challenge is None or stale:
        raise Aal2Refused(
            gettext_noop("Your security check has expired. Please pass it again before searching."), step="aal2"
        )
    network = network_for(link.network)
    request = QueryRequest(
        patient_id=str(link.patient_id),
        sources=sources.enabled(),
        query_ref=str(query.public_id),
        proofed_identity_id=challenge.proofed_identity_id,
        aal2_session_id=challenge.aal2_session_id,
        purpose_of_use=network.purpose_of_use,
    )
    try:
        answer = network.query_start(request=request)
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
    query = query_apply_network_status(query_id=query.pk, status=answer)
    for key in networks_registering()[1:]:
        companion_query_start(user=user, network=key, search=query, sources=sources)
    return query


def companion_query_start(*, user, network: str, search: NetworkQuery, sources: SourceChoice) -> NetworkQuery | None:
    """Ask another network (one that proves no identity, so it rides on this search's security check)
    for the person's records as part of `search`. Its failure never stops the search: the companion
    query shows as failed, in plain words, next to the search's own sources."""
    link = NetworkPatient.objects.filter(user=user, network=network, patient_id__isnull=False).first()
    if link is None:
        return None
    seam = network_for(network)
    query = NetworkQuery.objects.create(user=user, kind=NetworkQuery.Kind.NETWORK, network=network, parent=search)
    QuerySource.objects.create(query=query, source_type=COMPANION_SOURCE)
    request = QueryRequest(
        patient_id=str(link.patient_id),
        sources=sources.enabled(),
        query_ref=str(query.public_id),
        purpose_of_use=seam.purpose_of_use,
    )
    try:
        answer = seam.query_start(request=request)
    except (NetworkPermanentError, NetworkTransientError) as exc:
        log.warning("%s query %s could not start: %s", network, query.pk, exc)
        query_fail_to_start(query=query, reason=wording.COMPANION_START_FAILED)
        return NetworkQuery.objects.get(pk=query.pk)
    return query_apply_network_status(query_id=query.pk, status=answer)


def query_fail_to_start(*, query: NetworkQuery, reason: str) -> None:
    with transaction.atomic():
        NetworkQuery.objects.filter(pk=query.pk).update(
            status=NetworkQuery.Status.FAILED, failure_reason=reason, completed_at=timezone.now()
        )
        QuerySource.objects.filter(query=query).update(status=QuerySource.Status.FAILED, reason=reason)


def query_poll(*, query_id: int) -> NetworkQuery:
    """Ask the network where a quiet query stands and finish it from the answer (webhooks may be lost)."""
    query = NetworkQuery.objects.select_related("user").get(pk=query_id)
    if query.is_terminal or not query.request_id:
        return query
    NetworkQuery.objects.filter(pk=query_id).update(last_polled_at=timezone.now(), poll_count=query.poll_count + 1)
    link = NetworkPatient.objects.filter(user_id=query.user_id, network=query.network).first()
    network = network_for(query.network)
    if query.kind == NetworkQuery.Kind.CONSOLIDATED:
        if link is None or not link.patient_id:
            return query
        records = network.records_status(patient_id=link.patient_id, request_id=query.request_id)
        if records.state == "failed":
            consolidated_result_apply(query_id=query.pk, outcome="failed")
        elif records.state == "completed":
            # The result only travels by webhook: ask the network to send what it still holds.
            with contextlib.suppress(NetworkPermanentError):
                network.events_resend()
        return NetworkQuery.objects.get(pk=query_id)
    answer = network.query_status(request_id=query.request_id)
    query = query_apply_network_status(query_id=query_id, status=answer)
    if query.is_terminal:
        missing = query.sources.filter(status=QuerySource.Status.COMPLETED, records=QuerySource.Records.NONE)
        if missing.exists() and query.network == "particle":
            # Particle's results are fetched directly once its query finished.
            particle_events.particle_query_records_fetch(query_id=query.pk)
            return NetworkQuery.objects.get(pk=query_id)
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
                source_advance(row, QuerySource.Status.TIMED_OUT, reason=wording.SOURCE_TIMED_OUT)
        query.status = NetworkQuery.Status.TIMED_OUT
        query.failure_reason = wording.QUERY_TIMED_OUT
        query.completed_at = now
        query_recompute(query)
        query.save()
        query_settle(query)
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
        query_settle(query)
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
        query_settle(query)
    return query


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
        "partial": kind == "partial",
        "records_url": portal_url(reverse("records:summary")),
        "search_url": portal_url(reverse("ias:progress", args=[query.public_id])),
        "account_url": portal_url(reverse("account")),
    }
    try:
        # Written in the person's stored language (the site's default when they never chose one).
        with translation.override(query.user.language or settings.LANGUAGE_CODE):
            if kind == "ready":
                subject, template = gettext("Your records are ready"), "ias/email/records_ready"
            elif kind == "partial":
                subject, template = gettext("Some of your records are ready"), "ias/email/records_ready"
            else:
                subject = gettext("Your search for records did not finish as hoped")
                template = "ias/email/search_failed"
            branded_email_send(to=query.user.email, subject=subject, template=template, context=context)
    except Exception:
        NetworkQuery.objects.filter(pk=query_id).update(notified_at=None)
        raise
    return True
