"""Thin tasks for the person's rights: the account-deletion confirmation email and its sweeper.

Imports go one way: `portal.services` imports this module to enqueue; tasks import services in their bodies.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from ias.queueing import backoff_seconds, send_quietly
from portal.models import AccountDeletion

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=8, name="portal.account_deletion_notify")
def account_deletion_notify(self, deletion_id: int) -> str:
    """Retried with backoff here, and re-sent by the sweeper for as long as the address is kept."""
    from portal import services

    try:
        return "sent" if services.account_deletion_notify_send(deletion_id=deletion_id) else "nothing to do"
    except Exception as exc:
        log.warning("account deletion email failed (deletion=%s): %s", deletion_id, type(exc).__name__)
        raise self.retry(countdown=backoff_seconds(self.request.retries + 1, base=10.0)) from None


@shared_task(acks_late=True, name="portal.account_deletion_notify_sweep")
def account_deletion_notify_sweep() -> int:
    """Catch confirmation emails whose task was lost (broker down at commit, retries exhausted)."""
    stale = timezone.now() - timedelta(minutes=10)
    ids = list(
        AccountDeletion.objects.exclude(notify_email_encrypted="")
        .filter(requested_at__lt=stale)
        .values_list("pk", flat=True)[:200]
    )
    for deletion_id in ids:
        if not send_quietly(account_deletion_notify, deletion_id=deletion_id):
            break  # the broker is down: the next sweep tries again
    return len(ids)
