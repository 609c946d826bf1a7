"""A source event whose webhook links a bundle begins that link's download (records' BundlePrefetch)
before it records the source's state, hands it to the save, and drops whatever the save did not use
once the event is done, also when the event is refused."""

import pytest

from ias import events
from ias.models import WebhookEvent
from records import download
from tests.ias.conftest import linked
from tests.ias.test_events import an_event, news, started

pytestmark = pytest.mark.django_db


@pytest.fixture
def prefetches(monkeypatch):
    """Prefetches begun, in order; each one a real BundlePrefetch on a transport that answers the bundle."""
    import httpx

    begun: list[download.BundlePrefetch] = []

    def start(url: str):
        prefetch = download.BundlePrefetch(
            url, read_limit=1024, transport=httpx.MockTransport(lambda request: httpx.Response(200, content=b"{}"))
        )
        begun.append(prefetch)
        return prefetch

    monkeypatch.setattr(download, "bundle_prefetch", start)
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])
    return begun


def test_the_save_gets_the_events_own_prefetch_and_it_is_dropped_after(
    user, network, ingested, no_enqueue, prefetches, settings
):
    settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS = ["bundles.test"]
    query = started(user)
    status, _ = events.source_event_process(event=an_event(), news=news(query))
    assert status == WebhookEvent.Status.PROCESSED
    assert [p.url for p in prefetches] == ["https://bundles.test/b.json"]
    assert ingested.prefetches == prefetches
    assert prefetches[0].stop.is_set(), "dropped once the event is done"
    prefetches[0].thread.join(5)
    assert prefetches[0].take("https://bundles.test/b.json") is None


def test_a_refused_event_drops_its_prefetch(user, other_user, network, ingested, no_enqueue, prefetches):
    theirs = started(other_user)
    linked(user, "pat_mine")
    status, _ = events.source_event_process(event=an_event(), news=news(theirs, patient_id="pat_mine"))
    assert status == WebhookEvent.Status.IGNORED
    assert len(prefetches) == 1 and prefetches[0].stop.is_set()
    assert ingested.calls == []


def test_an_event_without_a_link_fetches_nothing(user, network, ingested, no_enqueue, prefetches):
    query = started(user)
    events.source_event_process(event=an_event(), news=news(query, url=""))
    assert prefetches == []


def test_an_event_whose_copy_is_saved_already_fetches_nothing(user, network, ingested, no_enqueue, prefetches):
    """Processed again after its save (a worker that died before finishing it): nothing is downloaded."""
    from ias.models import NetworkPatient

    query = started(user)
    event = an_event()
    NetworkPatient.objects.filter(user=user).update(
        last_ingested_data_at=event.sent_at or event.received_at, last_ingested_message_id=event.message_id
    )
    events.source_event_process(event=event, news=news(query))
    assert prefetches == []
