"""The periodic safety net: the network has no automatic webhook retries and queries can hang.

Re-enqueues stored-but-unprocessed events (a broker outage, a killed worker), polls queries that
went quiet, times out queries that never finish, nudges pending identity checks, and keeps
asking the network to delete forgotten patients.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ias import wording
from ias.models import IdentityVerification, NetworkQuery, PatientDeletion, WebhookEvent
from ias.queueing import send_quietly

log = logging.getLogger(__name__)


def sweep_run(*, now=None) -> dict[str, int]:
    from ias import queries, tasks

    now = now or timezone.now()
    counts = {"events": 0, "polled": 0, "timed_out": 0, "start_failed": 0, "identities": 0, "deletions": 0}
    counts["records_given_up"] = 0

    event_age = timedelta(seconds=settings.IAS_SWEEP_EVENT_AGE_SECONDS)
    waiting = (
        WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, received_at__lte=now - event_age)
        .filter(Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - event_age))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
    for event_id in list(waiting):
        if not send_quietly(tasks.event_process, event_id=event_id):
            break
        WebhookEvent.objects.filter(pk=event_id).update(last_enqueued_at=now)
        counts["events"] += 1

    timeout = timedelta(seconds=settings.IAS_QUERY_TIMEOUT_SECONDS)
    open_queries = NetworkQuery.objects.exclude(status__in=NetworkQuery.TERMINAL)
    for query_id in open_queries.filter(created_at__lte=now - timeout).values_list("pk", flat=True):
        queries.query_time_out(query_id=query_id)
        counts["timed_out"] += 1

    unsettled = NetworkQuery.objects.filter(
        kind=NetworkQuery.Kind.NETWORK,
        status__in=NetworkQuery.TERMINAL,
        settled_at__isnull=True,
        completed_at__lte=now - timeout,
    )
    for query_id in unsettled.values_list("pk", flat=True)[:200]:
        queries.query_records_give_up(query_id=query_id, older_than=now - timeout)
        counts["records_given_up"] += 1

    stuck_start = open_queries.filter(
        status=NetworkQuery.Status.STARTING,
        request_id__isnull=True,
        created_at__lte=now - timedelta(minutes=10),
    )
    for query in stuck_start:
        queries.query_fail_to_start(query=query, reason=wording.QUERY_START_FAILED)
        counts["start_failed"] += 1

    quiet = timedelta(seconds=settings.IAS_QUERY_QUIET_SECONDS)
    quiet_ids = (
        NetworkQuery.objects.exclude(status__in=NetworkQuery.TERMINAL)
        .filter(request_id__isnull=False, last_activity_at__lte=now - quiet)
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - quiet))
        .values_list("pk", flat=True)[:500]
    )
    for query_id in list(quiet_ids):
        if send_quietly(tasks.query_poll, query_id=query_id):
            NetworkQuery.objects.filter(pk=query_id).update(last_polled_at=now)
            counts["polled"] += 1

    identity_wait = timedelta(seconds=settings.IAS_IDENTITY_POLL_SECONDS)
    pending = IdentityVerification.objects.filter(status=IdentityVerification.Status.PENDING)
    pending.filter(created_at__lte=now - timedelta(days=1)).update(
        status=IdentityVerification.Status.EXPIRED, failure_reason="No result arrived within a day."
    )
    nudge = (
        pending.filter(created_at__lte=now - identity_wait)
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - identity_wait))
        .values_list("pk", flat=True)[:200]
    )
    for verification_id in list(nudge):
        if send_quietly(tasks.identity_poll, verification_id=verification_id):
            IdentityVerification.objects.filter(pk=verification_id).update(last_polled_at=now)
            counts["identities"] += 1

    for deletion_id in PatientDeletion.objects.filter(status=PatientDeletion.Status.PENDING).values_list(
        "pk", flat=True
    )[:200]:
        if send_quietly(tasks.patient_delete_at_network, deletion_id=deletion_id):
            counts["deletions"] += 1
    return counts
