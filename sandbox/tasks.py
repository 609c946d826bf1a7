"""Thin Celery tasks: they take ids, call one service, and are safe to run twice.

Imports go one way: `sandbox.services` imports this module to schedule; tasks import services in their bodies.
"""

from celery import shared_task
from django.db import OperationalError

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 2, "retry_jitter": True, "max_retries": 5}


@shared_task(acks_late=True, **RETRY)
def network_query_first_data(source_id: int) -> None:
    from sandbox import services

    services.network_query_first_data(source_id=source_id)


@shared_task(acks_late=True, **RETRY)
def network_query_source_complete(source_id: int) -> None:
    from sandbox import services

    services.network_query_source_complete(source_id=source_id)


@shared_task(acks_late=True, **RETRY)
def consolidated_query_complete(request_id: str) -> None:
    from sandbox import services

    services.consolidated_query_complete(request_id=request_id)


@shared_task(acks_late=True, **RETRY)
def document_job_complete(request_id: str) -> None:
    from sandbox import services

    services.document_job_complete(request_id=request_id)


@shared_task(acks_late=True, **RETRY)
def webhook_deliver(delivery_id: int) -> None:
    """One attempt only: like the real network, a failed delivery waits for the retry endpoint."""
    from sandbox import services

    services.webhook_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True, **RETRY)
def particle_query_complete(query_id: str) -> None:
    from sandbox import particle

    particle.query_complete(query_id=query_id)


@shared_task(acks_late=True, **RETRY)
def sandbox_sweep() -> int:
    from sandbox import particle, services

    return services.sweep() + particle.sweep()
