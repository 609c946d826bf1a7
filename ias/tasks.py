"""Thin Celery tasks: they take ids, are idempotent, run with acks_late and retry with jittered backoff.

Imports go one way: services, the sweeper and the webhook receipt import this module to enqueue; the
tasks reach them from inside their bodies.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task

from ias.models import IdentityVerification, NetworkQuery, WebhookEvent
from ias.network import NetworkTransientError
from ias.queueing import retry_in

log = logging.getLogger(__name__)

# What a task answers when its row is gone (the person deleted their account after it was queued):
# there is nothing left to poll or tell, which is not a failure to log or retry.
GONE = "gone"


@shared_task(bind=True, acks_late=True, name="ias.event_process")
def event_process(self, event_id: int) -> str:
    from ias import webhooks

    try:
        return webhooks.event_process(event_id=event_id)
    except webhooks.EventBusy as busy:
        raise self.retry(countdown=busy.retry_in + random.uniform(0.5, 3.0), max_retries=None) from None
    except Exception as exc:
        row = WebhookEvent.objects.filter(pk=event_id).values("status", "attempts").first()
        if row is None or row["status"] != WebhookEvent.Status.PENDING:
            log.warning("webhook event %s gave up: %s", event_id, type(exc).__name__)
            return "gave up"
        raise self.retry(countdown=retry_in(exc, row["attempts"]), max_retries=None) from None


@shared_task(bind=True, acks_late=True, max_retries=5, name="ias.query_poll")
def query_poll(self, query_id: int) -> str:
    from ias import queries

    try:
        return queries.query_poll(query_id=query_id).status
    except NetworkQuery.DoesNotExist:
        return GONE
    except NetworkTransientError as exc:
        raise self.retry(countdown=retry_in(exc, self.request.retries + 1)) from None


@shared_task(bind=True, acks_late=True, max_retries=5, name="ias.identity_poll")
def identity_poll(self, verification_id: int) -> str:
    from ias import identity

    try:
        return identity.identity_poll(verification_id=verification_id).status
    except IdentityVerification.DoesNotExist:
        return GONE
    except NetworkTransientError as exc:
        raise self.retry(countdown=retry_in(exc, self.request.retries + 1)) from None


@shared_task(bind=True, acks_late=True, max_retries=10, name="ias.patient_delete_at_network")
def patient_delete_at_network(self, deletion_id: int) -> str:
    """Retried here with backoff, and again by the sweeper for as long as the row is pending."""
    from ias import patients

    try:
        return patients.patient_delete_at_network(deletion_id=deletion_id).status
    except Exception as exc:
        raise self.retry(countdown=retry_in(exc, self.request.retries + 1)) from None


@shared_task(bind=True, acks_late=True, max_retries=5, name="ias.query_outcome_notify")
def query_outcome_notify(self, query_id: int) -> str:
    """The "records ready" / "search failed" email; sent at most once per query."""
    from ias import queries

    try:
        return "sent" if queries.query_outcome_notify(query_id=query_id) else "nothing to do"
    except NetworkQuery.DoesNotExist:
        return GONE
    except Exception as exc:
        log.warning("outcome email for query %s failed: %s", query_id, type(exc).__name__)
        raise self.retry(countdown=retry_in(exc, self.request.retries + 1)) from None


@shared_task(acks_late=True, name="ias.sweep")
def sweep() -> dict:
    from ias import sweeper

    return sweeper.sweep_run()
