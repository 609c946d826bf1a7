"""Thin Celery tasks: they take ids, call one service, and are safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from sandbox import services

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 2, "retry_jitter": True, "max_retries": 5}


@shared_task(acks_late=True, **RETRY)
def network_query_first_data(source_id: int) -> None:
    services.network_query_first_data(source_id=source_id)


@shared_task(acks_late=True, **RETRY)
def network_query_source_complete(source_id: int) -> None:
    services.network_query_source_complete(source_id=source_id)


@shared_task(acks_late=True, **RETRY)
def consolidated_query_complete(request_id: str) -> None:
    services.consolidated_query_complete(request_id=request_id)


@shared_task(acks_late=True, **RETRY)
def document_job_complete(request_id: str) -> None:
    services.document_job_complete(request_id=request_id)


@shared_task(acks_late=True, **RETRY)
def webhook_deliver(delivery_id: int) -> None:
    """One attempt only: like the real network, a failed delivery waits for the retry endpoint."""
    services.webhook_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True, **RETRY)
def sandbox_sweep() -> int:
    return services.sweep()
