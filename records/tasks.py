"""Thin periodic tasks of the record: deleting the files of shares that no longer work."""

from __future__ import annotations

from celery import shared_task

from records.sharing import shares_purge_expired as purge


@shared_task(acks_late=True, name="records.shares_purge_expired")
def shares_purge_expired() -> int:
    """Expired, revoked and locked shares keep no files (idempotent: a second run finds none)."""
    return purge()
