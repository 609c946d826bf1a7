"""A query's linked copies arrive one after another while the first event is still saving: hie's
first data, hie, pharmacy, lab. The event hands its save over to each newer copy as it arrives, up to
HANDOVERS_MAX times, whether it finds the newer copy before a save or stops a running save for it,
and never then saves in full a copy it already knows to be older than one waiting."""

import pytest

from ias import webhooks
from ias.delivery import HANDOVERS_MAX
from ias.models import WebhookEvent
from records.errors import BundleSuperseded
from tests.ias.conftest import saved_snapshot, verified
from tests.ias.fakes import envelope
from tests.ias.helpers import store
from tests.ias.test_handlers import start_query

pytestmark = pytest.mark.django_db

# The sandbox's order: hie has first data at half its delay, then each source completes.
EVENTS = (
    ("network-query.hie.first-data-ready", "hie", "processing", "first"),
    ("network-query.hie", "hie", "completed", "hie"),
    ("network-query.pharmacy", "pharmacy", "completed", "pharmacy"),
    ("network-query.lab", "lab", "completed", "lab"),
)


def stored(index: int, request_id: str) -> WebhookEvent:
    event_type, source, status, name = EVENTS[index]
    return store(
        envelope(
            event_type,
            request_id=request_id,
            when=f"2026-01-01T10:0{index}:00.000Z",
            payload={
                "patientId": "pat_1",
                "consolidatedDataUrl": f"https://bundles.test/{name}.json",
                "source": {"type": source, "status": status},
            },
        )
    )


def arriving_while_saving(ingested, arrivals: list):
    """Each save stores the next event when it begins (it arrives while the copy downloads); a save
    that is asked whether a newer copy waits stops when one does, else it completes."""

    def call(self, **kwargs):
        check = kwargs["superseded"]
        self.started.append(kwargs["url"].rsplit("/", 1)[-1])
        if arrivals:
            arrivals.pop(0)()
        if check is not None and check():
            raise BundleSuperseded()
        self.calls.append(kwargs)
        return saved_snapshot()

    ingested.started = []
    return call


def saved_names(ingested) -> list[str]:
    return [c["url"].rsplit("/", 1)[-1] for c in ingested.calls]


def process_all(events: list[WebhookEvent]) -> None:
    for event in events:
        webhooks.event_process(event_id=event.pk)


def run(ingested, monkeypatch, events: list[WebhookEvent], arrivals: list) -> None:
    # Each reading of the clock is a second after the last: a save's ask comes long after the look
    # before it, as when the copy downloads (within NEWER_COPY_ASK_SECONDS it would not ask again).
    ticks = iter(range(1_000_000))
    monkeypatch.setattr("ias.delivery.monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(type(ingested), "__call__", arriving_while_saving(ingested, arrivals))
    process_all(events)


def test_each_copy_arriving_during_a_save_takes_it_over(mfa_user, network, ingested, no_enqueue, monkeypatch):
    """hie's first data starts saving; hie arrives and stops it, pharmacy stops hie's, lab stops
    pharmacy's: three handovers, and the lab copy is saved once (not the pharmacy copy in full, then
    lab's again)."""
    assert HANDOVERS_MAX >= 3
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    events = [stored(0, query.request_id)]
    arrivals = [lambda i=i: events.append(stored(i, query.request_id)) for i in (1, 2, 3)]
    run(ingested, monkeypatch, events, arrivals)
    assert ingested.started == ["first.json", "hie.json", "pharmacy.json", "lab.json"]
    assert saved_names(ingested) == ["lab.json"]
    assert dict(query.sources.values_list("source_type", "records")) == {
        "hie": "fetched",
        "pharmacy": "skipped",
        "lab": "skipped",
    }


def test_a_stopped_save_is_not_then_saved_in_full(mfa_user, network, ingested, no_enqueue, monkeypatch):
    """hie is already waiting when hie's first data is processed (a handover before any save), pharmacy
    stops hie's save and lab stops pharmacy's: the pharmacy copy, known to be older than lab's, is not
    then saved in full; lab's is, once."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    events = [stored(0, query.request_id), stored(1, query.request_id)]
    arrivals = [lambda i=i: events.append(stored(i, query.request_id)) for i in (2, 3)]
    run(ingested, monkeypatch, events, arrivals)
    assert ingested.started[:3] == ["hie.json", "pharmacy.json", "lab.json"]
    assert saved_names(ingested) == ["lab.json"]


def test_after_the_last_handover_the_copy_in_hand_is_saved(mfa_user, network, ingested, no_enqueue, monkeypatch):
    """A copy arriving after HANDOVERS_MAX handovers no longer stops the save: it is saved by its own
    event afterwards (the bound keeps one event from chasing newer copies for ever)."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    events = [stored(0, query.request_id)]
    arrivals = [lambda i=i: events.append(stored(i, query.request_id)) for i in (1, 2, 3)]
    monkeypatch.setattr("ias.delivery.HANDOVERS_MAX", 2)
    run(ingested, monkeypatch, events, arrivals)
    assert saved_names(ingested) == ["pharmacy.json", "lab.json"]
