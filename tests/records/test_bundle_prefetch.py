"""A small linked bundle is fetched in a thread while its event is recorded: the save uses that file
when it is the same link and arrived whole, and downloads the bundle itself otherwise (another link,
past the bytes a prefetch reads, a failed or stopped prefetch). Nothing a save does not use is left
on disk."""

import gzip
import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler

import httpx
import orjson
import pytest

from records import download
from records.models import Resource, Snapshot
from records.services import snapshot_ingest_from_url
from tests.helpers import http_server

BUNDLE = orjson.dumps(
    {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Condition", "id": "c1", "code": {"text": "Asthma"}}}],
    }
)
URL = "https://files.example.org/b.json"


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS = ["files.example.org"]
    settings.RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    settings.SANDBOX_ENABLED = True


@pytest.fixture
def public_dns(monkeypatch):
    """files.example.org resolves to a public address (the mock transports never connect to it)."""
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])


def leftovers() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("records-bundle-")}


def transport(body=BUNDLE, status=200, requests=None):
    def handler(request):
        if requests is not None:
            requests.append(str(request.url))
        return httpx.Response(status, stream=httpx.ByteStream(body))

    return httpx.MockTransport(handler)


def read(downloaded) -> bytes:
    with open(downloaded.path, "rb") as handle:
        data = handle.read()
    os.unlink(downloaded.path)
    return data


def test_the_same_link_is_handed_over_whole(public_dns):
    prefetch = download.BundlePrefetch(URL, read_limit=1024, transport=transport(gzip.compress(BUNDLE)))
    taken = prefetch.take(URL)
    assert taken is not None and read(taken) == BUNDLE
    assert prefetch.take(URL) is None, "a file is handed over once"


def test_another_link_gets_nothing_and_the_file_is_removed(public_dns):
    before = leftovers()
    prefetch = download.BundlePrefetch(URL, read_limit=1024, transport=transport())
    prefetch.thread.join()
    assert prefetch.take("https://files.example.org/newer.json") is None
    assert leftovers() == before


def test_a_bundle_past_the_limit_is_left_to_the_save(public_dns):
    before = leftovers()
    for body in (BUNDLE, [BUNDLE[:40], BUNDLE[40:]]):
        stream = httpx.ByteStream(body) if isinstance(body, bytes) else Chunked(body)
        prefetch = download.BundlePrefetch(
            URL, read_limit=50, transport=httpx.MockTransport(lambda request, s=stream: httpx.Response(200, stream=s))
        )
        assert prefetch.take(URL) is None
    assert leftovers() == before


class Chunked(httpx.SyncByteStream):
    """A body sent without a length, one chunk at a time; `gate`, when given, holds back the second."""

    def __init__(self, chunks, gate: threading.Event | None = None):
        self.chunks = chunks
        self.gate = gate
        self.sent = 0

    def __iter__(self):
        for chunk in self.chunks:
            if self.sent and self.gate is not None:
                self.gate.wait(5)
            self.sent += 1
            yield chunk


def test_a_failed_prefetch_hands_over_nothing(public_dns):
    prefetch = download.BundlePrefetch(URL, read_limit=1024, transport=transport(status=503))
    assert prefetch.take(URL) is None


def test_a_discarded_prefetch_stops_and_leaves_no_file(public_dns):
    before = leftovers()
    gate = threading.Event()
    stream = Chunked([BUNDLE[:10], BUNDLE[10:], b""], gate=gate)
    prefetch = download.BundlePrefetch(
        URL, read_limit=1024, transport=httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    )
    prefetch.discard()
    gate.set()
    prefetch.thread.join(5)
    assert not prefetch.thread.is_alive()
    assert prefetch.take(URL) is None
    assert leftovers() == before


def test_a_finished_prefetch_discarded_leaves_no_file(public_dns):
    before = leftovers()
    prefetch = download.BundlePrefetch(URL, read_limit=1024, transport=transport())
    prefetch.thread.join()
    prefetch.discard()
    assert leftovers() == before


def test_prefetching_is_off_at_zero_bytes(settings):
    settings.RECORDS_PREFETCH_MAX_BYTES = 0
    assert download.bundle_prefetch(URL) is None
    settings.RECORDS_PREFETCH_MAX_BYTES = 1024
    started = download.bundle_prefetch(URL)
    assert started is not None
    started.discard()


class Handler(BaseHTTPRequestHandler):
    body = b""
    requests: list[str] = []

    def do_GET(self):
        Handler.requests.append(self.path)
        self.send_response(200)
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        return


@pytest.fixture
def server():
    Handler.body, Handler.requests = gzip.compress(BUNDLE), []
    with http_server(Handler) as url:
        yield url


@pytest.mark.django_db
def test_the_save_uses_the_prefetched_file_over_real_http(user, server, private_storage_dir):
    url = f"{server}/b.json"
    prefetch = download.BundlePrefetch(url, read_limit=1024 * 1024)
    snapshot = snapshot_ingest_from_url(
        user_id=user.pk, url=url, network_source="hie", request_id="r1", retire=True, prefetched=prefetch
    )
    assert Handler.requests == ["/b.json"], "one request: the prefetch's"
    assert snapshot.status == Snapshot.STATUS_COMPLETE and snapshot.resource_count == 1
    assert Resource.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_a_save_whose_prefetch_failed_downloads_itself(user, server, private_storage_dir):
    url = f"{server}/b.json"
    prefetch = download.BundlePrefetch(url, read_limit=1024, transport=transport(status=500))
    snapshot = snapshot_ingest_from_url(
        user_id=user.pk, url=url, network_source="hie", request_id="r1", retire=True, prefetched=prefetch
    )
    assert Handler.requests == ["/b.json"], "the save's own download"
    assert snapshot.resource_count == 1


@pytest.mark.django_db
def test_a_newer_copy_waiting_stops_the_save_and_drops_the_prefetched_file(user, server, monkeypatch):
    """Asked once the prefetched file is handed over, as once a download is in: a copy to be thrown
    away is not parsed."""
    from records import ingest
    from records.errors import BundleSuperseded

    opened = []
    real_open = ingest.open_bundle

    def open_bundle(path):
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(ingest, "open_bundle", open_bundle)
    before = leftovers()
    url = f"{server}/b.json"
    prefetch = download.BundlePrefetch(url, read_limit=1024 * 1024)
    prefetch.thread.join()
    answers = iter([False, True])
    with pytest.raises(BundleSuperseded):
        snapshot_ingest_from_url(
            user_id=user.pk,
            url=url,
            network_source="hie",
            request_id="r1",
            retire=True,
            prefetched=prefetch,
            superseded=lambda: next(answers),
        )
    assert Handler.requests == ["/b.json"], "the prefetch's only"
    assert opened == []
    assert leftovers() == before
    assert not Snapshot.objects.filter(user=user).exists()
