"""Bundle links: allow-list, no redirects, caps, gzip bombs, expiry, transient failures, no partial data."""

import gzip
import os
from http.server import BaseHTTPRequestHandler

import httpx
import orjson
import pytest

from records import download
from records.errors import BundleDownloadError, BundleLinkExpired
from records.models import Resource, Snapshot
from records.services import snapshot_ingest_from_url
from tests.helpers import http_server

BUNDLE = orjson.dumps(
    {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Condition", "id": "c1", "code": {"text": "Asthma"}}}],
    }
)


def _transport(status=200, body=BUNDLE, headers=None):
    def handler(request):
        return httpx.Response(status, stream=httpx.ByteStream(body), headers=headers or {})

    return httpx.MockTransport(handler)


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS = ["files.example.org", ".s3.amazonaws.com"]
    settings.RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS = ["127.0.0.1", "localhost"]
    settings.SANDBOX_ENABLED = True


@pytest.fixture
def public_dns(monkeypatch):
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])


def _read(result):
    with open(result.path, "rb") as handle:
        data = handle.read()
    os.unlink(result.path)
    return data


def test_https_allow_listed_host(public_dns):
    result = download.bundle_download(url="https://files.example.org/b.json", transport=_transport())
    assert _read(result) == BUNDLE and result.size == len(BUNDLE)


def test_gzip_is_decompressed(public_dns):
    result = download.bundle_download(
        url="https://x.s3.amazonaws.com/b.json.gz", transport=_transport(body=gzip.compress(BUNDLE))
    )
    assert _read(result) == BUNDLE


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/b.json",
        "http://files.example.org/b.json",
        "ftp://files.example.org/b",
        "https://user:pw@files.example.org/b",
        "http://10.0.0.1/b",
        "not a url",
        "https://files.example.org:99999/",
    ],
)
def test_refused_links(url, public_dns):
    with pytest.raises(BundleDownloadError) as caught:
        download.bundle_download(url=url, transport=_transport())
    assert not caught.value.transient


def test_private_addresses_refused_for_https(monkeypatch):
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("169.254.169.254", 443))])
    with pytest.raises(BundleDownloadError, match="non-public"):
        download.bundle_download(url="https://files.example.org/b.json", transport=_transport())


def test_plain_http_only_for_dev_hosts_when_sandbox_or_debug(settings):
    result = download.bundle_download(url="http://127.0.0.1:8000/sandbox/files/x", transport=_transport())
    assert _read(result) == BUNDLE
    settings.SANDBOX_ENABLED = False
    settings.DEBUG = False
    with pytest.raises(BundleDownloadError):
        download.bundle_download(url="http://127.0.0.1:8000/sandbox/files/x", transport=_transport())


@pytest.mark.parametrize("status", [403, 410])
def test_forbidden_or_gone_means_expired(status, public_dns):
    with pytest.raises(BundleLinkExpired):
        download.bundle_download(url="https://files.example.org/b", transport=_transport(status=status))


def test_expired_signature_is_not_even_requested(public_dns):
    def handler(request):
        raise AssertionError("must not be requested")

    url = "https://x.s3.amazonaws.com/b?X-Amz-Date=20200101T000000Z&X-Amz-Expires=180&X-Amz-Signature=abc"
    with pytest.raises(BundleLinkExpired):
        download.bundle_download(url=url, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "transient"), [(302, False), (404, False), (500, True), (503, True), (429, True)])
def test_other_statuses(status, transient, public_dns):
    with pytest.raises(BundleDownloadError) as caught:
        download.bundle_download(
            url="https://files.example.org/b", transport=_transport(status=status, headers={"location": "https://x/"})
        )
    assert caught.value.transient is transient
    assert not isinstance(caught.value, BundleLinkExpired)


def test_size_caps_and_gzip_bomb(settings, public_dns):
    settings.RECORDS_DOWNLOAD_MAX_BYTES = 100
    with pytest.raises(BundleDownloadError, match="size cap"):
        download.bundle_download(url="https://files.example.org/b", transport=_transport(body=b"x" * 500))
    settings.RECORDS_DOWNLOAD_MAX_BYTES = 10_000
    settings.RECORDS_DOWNLOAD_MAX_DECOMPRESSED_BYTES = 50_000
    bomb = gzip.compress(b"\x00" * 5_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(BundleDownloadError, match="decompressed size cap"):
        download.bundle_download(url="https://files.example.org/b", transport=_transport(body=bomb))


def test_timeouts_are_transient(public_dns):
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(BundleDownloadError) as caught:
        download.bundle_download(url="https://files.example.org/b", transport=httpx.MockTransport(handler))
    assert caught.value.transient


def test_failed_download_leaves_no_temporary_file(public_dns, tmp_path, monkeypatch):
    monkeypatch.setattr(download.tempfile, "tempdir", str(tmp_path))
    with pytest.raises(BundleDownloadError):
        download.bundle_download(url="https://files.example.org/b", transport=_transport(body=b"\x1f\x8bnot gzip"))
    assert list(tmp_path.iterdir()) == []


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        status, body, headers = self.routes.get(self.path, (404, b"", {}))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return


@pytest.fixture
def server():
    with http_server(_Handler) as url:
        yield url


@pytest.mark.django_db
def test_ingest_from_url_over_real_http_is_idempotent(user, server, private_storage_dir):
    _Handler.routes = {
        "/ok": (200, gzip.compress(BUNDLE), {"content-type": "application/gzip"}),
        "/gone": (410, b"", {}),
        "/moved": (301, b"", {"location": "/ok"}),
    }
    first = snapshot_ingest_from_url(
        user_id=user.pk, url=f"{server}/ok", network_source="hie", request_id="r1", retire=True
    )
    assert first.resource_count == 1 and first.download_ms >= 0
    _Handler.routes["/ok"] = (500, b"", {})
    again = snapshot_ingest_from_url(
        user_id=user.pk, url=f"{server}/ok", network_source="hie", request_id="r1", retire=True
    )
    assert again.pk == first.pk
    with pytest.raises(BundleLinkExpired):
        snapshot_ingest_from_url(
            user_id=user.pk, url=f"{server}/gone", network_source="lab", request_id="r1", retire=True
        )
    with pytest.raises(BundleDownloadError):
        snapshot_ingest_from_url(
            user_id=user.pk, url=f"{server}/moved", network_source="pharmacy", request_id="r1", retire=True
        )
    assert Resource.objects.filter(user=user).count() == 1
    assert Snapshot.objects.filter(user=user, status=Snapshot.STATUS_FAILED).count() == 2
    assert set(Snapshot.objects.filter(status="failed").values_list("failure_reason", flat=True)) == {
        "answered 410",
        "redirect refused",
    }


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        yield from self.chunks


def _leftovers():
    import tempfile

    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("records-bundle-")}


def test_a_download_stops_when_a_newer_copy_is_waiting(public_dns, monkeypatch):
    from records.errors import BundleSuperseded

    monkeypatch.setattr(download, "SUPERSEDED_CHECK_SECONDS", 0.0)
    fed = []
    stream = _Chunks([BUNDLE[:10], BUNDLE[10:20], BUNDLE[20:]])
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    real_feed = download._Sink.feed

    def feed(sink, chunk):
        fed.append(chunk)
        real_feed(sink, chunk)

    monkeypatch.setattr(download._Sink, "feed", feed)
    answers = iter([False, True])
    before = _leftovers()
    with pytest.raises(BundleSuperseded):
        download.bundle_download(
            url="https://files.example.org/b.json", transport=transport, superseded=lambda: next(answers)
        )
    assert len(fed) == 1, "the rest of the body is not read"
    assert _leftovers() == before


def test_a_download_asks_once_more_when_the_body_is_in(public_dns):
    from records.errors import BundleSuperseded

    asked = []

    def newer_waiting():
        asked.append(1)
        return True

    before = _leftovers()
    with pytest.raises(BundleSuperseded):
        download.bundle_download(
            url="https://files.example.org/b.json", transport=_transport(), superseded=newer_waiting
        )
    assert asked == [1]
    assert _leftovers() == before
    result = download.bundle_download(
        url="https://files.example.org/b.json", transport=_transport(), superseded=lambda: False
    )
    assert _read(result) == BUNDLE
