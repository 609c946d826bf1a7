"""Item 7 of issue 12: an event dated far in the future must not freeze the record. Event times
beyond a five-minute skew are clamped to when the event was received."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ias.models import NetworkPatient, QuerySource
from tests.ias.conftest import ingested, linked, network, no_enqueue  # noqa: F401  (fixtures)
from tests.ias.fakes import source_event
from tests.ias.helpers import deliver

pytestmark = pytest.mark.django_db


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_2099_event_does_not_make_later_bundles_skipped(user, ingested, no_enqueue):  # noqa: F811
    linked(user, "pat_c")
    future = deliver(source_event("hie", patient_id="pat_c", request_id="req_f", when="2099-01-01T00:00:00.000Z"))
    assert future.sent_at is not None and future.sent_at < timezone.now() + timedelta(minutes=6)
    last_ingested = NetworkPatient.objects.get(user=user).last_ingested_data_at
    assert last_ingested is not None
    assert last_ingested.year < 2099

    genuine = deliver(
        source_event("lab", patient_id="pat_c", request_id="req_f", when=_iso(timezone.now() + timedelta(seconds=5)))
    )
    assert "records fetched" in genuine.outcome
    assert QuerySource.objects.get(query__request_id="req_f", source_type="lab").records == "fetched"
    assert len(ingested.calls) == 2


def test_a_small_clock_skew_is_kept(user, ingested, no_enqueue):  # noqa: F811
    linked(user, "pat_c")
    ahead = timezone.now() + timedelta(minutes=2)
    event = deliver(source_event("hie", patient_id="pat_c", request_id="req_s", when=_iso(ahead)))
    assert event.sent_at is not None
    assert abs((event.sent_at - ahead).total_seconds()) < 1
