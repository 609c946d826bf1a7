"""Attacks on the bundle download (records.download): where it may go, what it may follow, how much it
may read. A real HTTP server on 127.0.0.1 plays the hostile link."""

import glob
import gzip
import json
import os
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from records.download import bundle_download
from records.errors import BundleDownloadError, BundleLinkExpired
from tests.helpers import http_server

BUNDLE = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}).encode()
# 64 MiB of zeros gzip to ~64 KiB: a bomb against a 1 MiB decompressed cap.
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


class Hostile(BaseHTTPRequestHandler):
    hits: list[str] = []
    server: ThreadingHTTPServer

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, length: bool = True):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Hostile.hits.append(self.path)
        path = self.path.split("?")[0]
        if path == "/ok":
            self._send(200, BUNDLE, {"Content-Type": "application/json"})
        elif path == "/redirect":
            self._send(302, b"", {"Location": f"http://127.0.0.1:{self.server.server_port}/ok"})
        elif path == "/redirect-meta":
            self._send(301, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/big":
            self._send(200, b"x" * (300 * 1024))
        elif path == "/big-lying":
            # Declares a small length, then streams more (the server closes after).
            self.send_response(200)
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"y" * 8192)
        elif path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 1024 * 1024 * 1024))
            self.end_headers()
            self.wfile.write(b"{")
        elif path == "/bomb":
            self._send(200, BOMB, {"Content-Type": "application/gzip"})
        elif path == "/bomb-encoded":
            self._send(200, BOMB, {"Content-Encoding": "gzip"})
        elif path == "/gone":
            self._send(410)
        elif path == "/forbidden":
            self._send(403)
        elif path == "/brotli":
            self._send(200, b"xx", {"Content-Encoding": "br"})
        else:
            self._send(404)


@pytest.fixture(scope="module")
def server():
    with http_server(Hostile) as url:
        yield url


@pytest.fixture
def dev(settings):
    """Development mode: plain HTTP to 127.0.0.1 is allowed, so the other defences are what is tested."""
    settings.DEBUG = True
    settings.RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    settings.RECORDS_DOWNLOAD_MAX_BYTES = 256 * 1024
    settings.RECORDS_DOWNLOAD_MAX_DECOMPRESSED_BYTES = 1024 * 1024
    Hostile.hits = []
    return settings


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    settings.RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS = ["127.0.0.1", "localhost"]  # ignored outside DEBUG/sandbox
    settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS = [
        "api.metriport.com",
        "localhost",
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "[::1]",
        "::1",
        "0.0.0.0",  # noqa: S104
    ]
    Hostile.hits = []
    return settings


def _leftovers() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "records-bundle-*")))


def _refused(url: str) -> BundleDownloadError:
    before = _leftovers()
    with pytest.raises(BundleDownloadError) as caught:
        bundle_download(url=url)
    assert _leftovers() <= before, "a refused download left a file behind"
    assert url not in str(caught.value), "the error message carries the link"
    return caught.value


def test_a_good_link_downloads(server, dev):
    downloaded = bundle_download(url=f"{server}/ok")
    try:
        with open(downloaded.path, "rb") as handle:
            assert handle.read() == BUNDLE
    finally:
        os.unlink(downloaded.path)


# --- production mode: where the download may go --------------------------------------------------


def test_production_refuses_plain_http_even_to_allowed_hosts(server, production):
    _refused(f"{server}/ok")
    _refused("http://api.metriport.com/bundle.json")
    assert Hostile.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "ftp://api.metriport.com/bundle.json",
        "gopher://127.0.0.1:70/_x",
        "data:application/json,{}",
        "javascript:alert(1)",
        "//api.metriport.com/bundle.json",
        "https:///bundle.json",
        "https://evil.example.com/bundle.json",
        "https://api.metriport.com.evil.example/bundle.json",
        "https://api.metriport.com@127.0.0.1/bundle.json",
        "https://user:pass@api.metriport.com/bundle.json",
    ],
)
def test_production_refuses_schemes_and_hosts(url, production):
    assert not _refused(url).transient


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/bundle.json",
        "https://localhost/bundle.json",
        "https://10.1.2.3/bundle.json",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/bundle.json",
        "https://0.0.0.0/bundle.json",
    ],
)
def test_production_refuses_loopback_and_private_addresses_even_when_allow_listed(url, production):
    error = _refused(url)
    assert "address" in error.reason or "not allowed" in error.reason or "allow-list" in error.reason


# --- what the download may follow and read (dev mode, so the link itself is allowed) ----------------


def test_redirects_are_not_followed(server, dev):
    error = _refused(f"{server}/redirect")
    assert "redirect" in error.reason
    assert Hostile.hits == ["/redirect"], "the redirect target was fetched"


def test_redirect_to_cloud_metadata_is_not_followed(server, dev):
    _refused(f"{server}/redirect-meta")
    assert Hostile.hits == ["/redirect-meta"]


def test_oversized_body_is_cut_off(server, dev):
    assert "size cap" in _refused(f"{server}/big").reason


def test_oversized_body_without_honest_length_is_cut_off(server, dev):
    assert "size cap" in _refused(f"{server}/big-lying").reason


def test_declared_huge_length_is_refused_before_reading(server, dev):
    assert "size cap" in _refused(f"{server}/declared-huge").reason


@pytest.mark.parametrize("path", ["/bomb", "/bomb-encoded"])
def test_gzip_bomb_is_stopped_at_the_decompressed_cap(server, dev, path):
    assert "decompressed size cap" in _refused(f"{server}{path}").reason


def test_unknown_content_encoding_is_refused(server, dev):
    _refused(f"{server}/brotli")


@pytest.mark.parametrize("path", ["/gone", "/forbidden"])
def test_expired_links_say_so(server, dev, path):
    with pytest.raises(BundleLinkExpired):
        bundle_download(url=f"{server}{path}")


@pytest.mark.django_db
def test_a_refused_link_stores_nothing_for_the_person(server, dev, mfa_user):
    from records.models import Resource, Snapshot
    from records.services import snapshot_ingest_from_url

    with pytest.raises(BundleDownloadError):
        snapshot_ingest_from_url(
            user_id=mfa_user.pk, url=f"{server}/bomb", network_source="hie", request_id="r1", retire=True
        )
    assert not Resource.objects.filter(user=mfa_user).exists()
    assert not Snapshot.objects.filter(user=mfa_user, status=Snapshot.STATUS_COMPLETE).exists()
