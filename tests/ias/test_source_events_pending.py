"""Which stored events hold a newer copy of a person's whole record than the one an event is saving."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from ias.models import WebhookEvent
from ias.selectors import source_events_pending

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
numbers = itertools.count()


def event(
    *,
    seconds: float | None,
    received: float = 0,
    event_type: str = "network-query.hie",
    patient: str = "pat_1",
    network: str = "metriport",
    status: str = WebhookEvent.Status.PENDING,
) -> WebhookEvent:
    return WebhookEvent.objects.create(
        network=network,
        message_id=f"m-{next(numbers)}",
        event_type=event_type,
        network_patient_id=patient,
        sent_at=None if seconds is None else T0 + timedelta(seconds=seconds),
        received_at=T0 + timedelta(seconds=received),
        body_encrypted=b"",
        status=status,
    )


def pending_after(own: WebhookEvent, seconds: float) -> list[WebhookEvent]:
    return list(source_events_pending(event=own, after=T0 + timedelta(seconds=seconds)))


def test_only_newer_waiting_copies_of_the_same_patient_newest_first():
    own = event(seconds=0)
    newer = event(seconds=10)
    newest = event(seconds=20)
    event(seconds=5, status=WebhookEvent.Status.PROCESSED)
    event(seconds=30, status=WebhookEvent.Status.FAILED)
    event(seconds=-5)  # older than what is being saved
    event(seconds=0)  # the same moment is not newer
    event(seconds=40, patient="pat_2")
    event(seconds=40, network="particle")
    event(seconds=40, event_type="medical.document-download")
    event(seconds=40, event_type="consolidated-data")
    assert pending_after(own, 0) == [newest, newer]
    assert pending_after(own, 15) == [newest]
    assert pending_after(newest, 0) == [newer]


def test_an_event_never_finds_itself():
    own = event(seconds=50)
    assert pending_after(own, 0) == []


def test_without_a_sent_time_the_received_time_counts():
    own = event(seconds=0)
    late = event(seconds=None, received=60)
    early = event(seconds=None, received=-60)
    assert pending_after(own, 0) == [late]
    assert pending_after(own, -120) == [late, early]


def test_ties_go_to_the_later_stored_event():
    own = event(seconds=0)
    first = event(seconds=10)
    second = event(seconds=10)
    assert pending_after(own, 0) == [second, first]


def test_an_event_with_no_patient_has_no_newer_copy():
    own = event(seconds=0, patient="")
    event(seconds=10, patient="")
    assert pending_after(own, 0) == []


def test_the_whole_row_comes_back():
    own = event(seconds=0)
    newer = WebhookEvent.objects.get(pk=event(seconds=10).pk)
    (found,) = pending_after(own, 0)
    for field in WebhookEvent._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(newer, field.attname), field.name
