"""Scheduled housekeeping for accounts."""

from celery import shared_task

from accounts import services


@shared_task(acks_late=True, name="accounts.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Run by beat (ACCOUNTS_SESSIONS_CLEAR_EVERY_SECONDS): expired sessions are not kept."""
    services.sessions_clear_expired()
