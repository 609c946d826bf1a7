"""Which person a webhook event concerns, for staff pages: by network patient id or request id."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from ias.models import NetworkPatient, NetworkQuery, WebhookEvent


def person_ids_for_event(*, event: WebhookEvent) -> set[int]:
    ids: set[int] = set()
    if event.network_patient_id:
        ids |= set(NetworkPatient.objects.filter(patient_id=event.network_patient_id).values_list("user_id", flat=True))
    if event.request_id:
        ids |= set(NetworkQuery.objects.filter(request_id=event.request_id).values_list("user_id", flat=True))
    return ids


def person_for_event(*, event: WebhookEvent) -> User | None:
    """The one person the event concerns, or None (an unknown patient, or ids that disagree)."""
    ids = person_ids_for_event(event=event)
    return User.objects.filter(pk__in=ids).first() if len(ids) == 1 else None


def events_for_person(*, user: User) -> QuerySet[WebhookEvent]:
    """Webhook events that concern this person: their network patient id or one of their request ids."""
    patient_ids = [pid for pid in NetworkPatient.objects.filter(user=user).values_list("patient_id", flat=True) if pid]
    request_ids = [rid for rid in NetworkQuery.objects.filter(user=user).values_list("request_id", flat=True) if rid]
    return WebhookEvent.objects.filter(Q(network_patient_id__in=patient_ids) | Q(request_id__in=request_ids))
