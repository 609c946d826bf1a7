"""Fetch a bundle (or document) link: the only place records talks HTTP.

Only HTTPS to allow-listed hosts (plain HTTP only to the development hosts while DEBUG or the
sandbox is on), never to private or loopback addresses otherwise, no redirects, a cap on the bytes
read and on the bytes after gunzip, timeouts on every phase and on the whole. A failure raises with
a short reason (logged with the host only: links carry patient identifiers) and leaves no file.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
from django.conf import settings

from records.errors import BundleDownloadError, BundleLinkExpired, BundleSuperseded
from records.http import hardened_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Downloaded:
    """A fetched bundle on disk (decompressed); the caller deletes `path`."""

    path: str
    size: int
    sha256: str
    elapsed_ms: int


def _http_hosts() -> set[str]:
    if not (settings.DEBUG or settings.SANDBOX_ENABLED):
        return set()
    return {h.lower() for h in settings.RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS}


def _host_allowed(host: str, allowed: list[str]) -> bool:
    for entry in allowed:
        entry = entry.lower().strip()
        if entry.startswith(".") and host.endswith(entry):
            return True
        if host == entry:
            return True
    return False


def _public_address(host: str, port: int) -> None:
    """Refuse hosts that resolve to private, loopback, link-local or reserved addresses."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise _fail("host does not resolve", host=host, transient=True) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise _fail("host resolves to a non-public address", host=host)


def _fail(reason: str, *, host: str = "", transient: bool = False) -> BundleDownloadError:
    logger.warning("records download refused: %s (host=%s)", reason, host or "-")
    return BundleDownloadError(reason, transient=transient)


def _expired(reason: str, *, host: str) -> BundleLinkExpired:
    logger.info("records download link expired: %s (host=%s)", reason, host)
    return BundleLinkExpired(reason)


def check_url(url: str) -> tuple[str, int]:
    """Validate a link before any request; returns (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _fail("malformed link") from exc
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise _fail("malformed link", host=host)
    if parts.scheme == "https":
        port = port or 443
        if not _host_allowed(host, settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS):
            raise _fail("host not on the allow-list", host=host)
        _public_address(host, port)
    elif parts.scheme == "http" and host in _http_hosts():
        port = port or 80
    else:
        raise _fail("scheme or host not allowed", host=host)
    _check_signature_expiry(parts.query, host=host)
    return host, port


def _check_signature_expiry(query: str, *, host: str) -> None:
    """Presigned links (S3 style) say when they expire; an expired one is not worth a request."""
    params = {k.lower(): v[-1] for k, v in parse_qs(query).items()}
    now = datetime.now(UTC)
    try:
        if "x-amz-date" in params and "x-amz-expires" in params:
            signed = datetime.strptime(params["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if (now - signed).total_seconds() > int(params["x-amz-expires"]):
                raise _expired("signature expired", host=host)
        elif "expires" in params and params["expires"].isdigit() and now.timestamp() > int(params["expires"]):
            raise _expired("signature expired", host=host)
    except ValueError:
        return


class _Sink:
    """Writes the body to a temporary file, gunzipping when needed, enforcing both caps."""

    def __init__(self, *, max_bytes: int, max_decompressed: int, host: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix="records-bundle-", suffix=".json")
        self.handle = os.fdopen(fd, "wb")
        self.max_bytes, self.max_decompressed, self.host = max_bytes, max_decompressed, host
        self.read = 0
        self.written = 0
        self.digest = hashlib.sha256()
        self.inflater: zlib._Decompress | None = None
        self.decided = False

    def feed(self, chunk: bytes) -> None:
        self.read += len(chunk)
        if self.read > self.max_bytes:
            raise _fail("bundle larger than the size cap", host=self.host)
        if not self.decided:
            self.decided = True
            if chunk[:2] == b"\x1f\x8b":
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.inflater is None:
            self._write(chunk)
            return
        data = chunk
        while data:
            try:
                out = self.inflater.decompress(data, 1024 * 1024)
            except zlib.error as exc:
                raise _fail("corrupt gzip data", host=self.host) from exc
            self._write(out)
            data = self.inflater.unconsumed_tail

    def finish(self) -> None:
        if self.inflater is not None:
            try:
                self._write(self.inflater.flush())
            except zlib.error as exc:
                raise _fail("corrupt gzip data", host=self.host) from exc
            if not self.inflater.eof:
                raise _fail("truncated gzip data", host=self.host, transient=True)
        self.handle.close()

    def _write(self, data: bytes) -> None:
        self.written += len(data)
        if self.written > self.max_decompressed:
            raise _fail("bundle larger than the decompressed size cap", host=self.host)
        self.digest.update(data)
        self.handle.write(data)

    def discard(self) -> None:
        self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


# How often, at most, a download asks whether a newer copy is waiting (the question reads the database).
SUPERSEDED_CHECK_SECONDS = 0.5


class _Stopped(Exception):
    """A prefetch told to stop, or past the bytes it may read ahead (see BundlePrefetch)."""


def bundle_download(
    *,
    url: str,
    transport: httpx.BaseTransport | None = None,
    superseded: Callable[[], bool] | None = None,
    stop: threading.Event | None = None,
    read_limit: int | None = None,
) -> Downloaded:
    """Download a bundle link to a temporary file; raise BundleLinkExpired or BundleDownloadError.

    `superseded()`, the caller's word that a newer whole record is waiting (or was saved meanwhile),
    is asked about twice a second while the body arrives and once when it is in: a yes raises
    BundleSuperseded and leaves no file, so a copy that would be thrown away is neither finished nor
    parsed. `stop` (set from another thread) and `read_limit` (bytes read) are a prefetch's bounds:
    either ends the download with no file left."""
    started = time.monotonic()
    host, _port = check_url(url)
    max_bytes = settings.RECORDS_DOWNLOAD_MAX_BYTES
    max_decompressed = settings.RECORDS_DOWNLOAD_MAX_DECOMPRESSED_BYTES
    deadline = started + settings.RECORDS_DOWNLOAD_TIMEOUT_SECONDS
    timeout = httpx.Timeout(connect=10.0, read=60.0, write=10.0, pool=10.0)
    sink = _Sink(max_bytes=max_bytes, max_decompressed=max_decompressed, host=host)
    try:
        with (
            hardened_client(timeout=timeout, transport=transport) as client,
            client.stream("GET", url, headers={"accept-encoding": "gzip, identity"}) as response,
        ):
            _check_status(response.status_code, host=host)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _fail("bundle larger than the size cap", host=host)
            if read_limit is not None and declared.isdigit() and int(declared) > read_limit:
                raise _Stopped("larger than a prefetch reads")
            encoding = response.headers.get("content-encoding", "identity").lower()
            if encoding not in ("identity", "gzip", ""):
                raise _fail("unsupported content encoding", host=host)
            next_check = started + SUPERSEDED_CHECK_SECONDS
            for chunk in response.iter_raw(1024 * 1024):
                if stop is not None and stop.is_set():
                    raise _Stopped("stopped")
                if read_limit is not None and sink.read + len(chunk) > read_limit:
                    raise _Stopped("larger than a prefetch reads")
                now = time.monotonic()
                if now > deadline:
                    raise _fail("download took too long", host=host, transient=True)
                if superseded is not None and now >= next_check:
                    next_check = now + SUPERSEDED_CHECK_SECONDS
                    if superseded():
                        raise BundleSuperseded()
                sink.feed(chunk)
        sink.finish()
        if superseded is not None and superseded():
            raise BundleSuperseded()
    except httpx.TimeoutException as exc:
        sink.discard()
        raise _fail("timed out", host=host, transient=True) from exc
    except httpx.HTTPError as exc:
        sink.discard()
        raise _fail("connection failed", host=host, transient=True) from exc
    except BaseException:
        sink.discard()
        raise
    elapsed = int((time.monotonic() - started) * 1000)
    logger.info("records download done (host=%s, bytes=%s, ms=%s)", host, sink.written, elapsed)
    return Downloaded(path=sink.path, size=sink.written, sha256=sink.digest.hexdigest(), elapsed_ms=elapsed)


class BundlePrefetch:
    """A linked bundle's download begun in a thread of its own while the event that links it is still
    being recorded (the source's state, the person's lock, the looks for a newer copy), so that the
    download's round trips overlap those steps instead of following them.

    Only a small bundle is fetched ahead: past `read_limit` bytes the prefetch stops, and the save
    downloads the bundle itself, under the person's lock, as every save did before, so two large
    copies are never downloaded side by side. A prefetch that failed, stopped or was for another link
    hands over nothing, and the save downloads as usual: its own attempt is the one whose failure
    counts. It touches no database."""

    def __init__(self, url: str, *, read_limit: int, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self.read_limit = read_limit
        self.transport = transport
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.result: Downloaded | None = None
        self.thread = threading.Thread(target=self._fetch, name="bundle-prefetch", daemon=True)
        self.thread.start()

    def _fetch(self) -> None:
        try:
            fetched: Downloaded | None = bundle_download(
                url=self.url, transport=self.transport, stop=self.stop, read_limit=self.read_limit
            )
        except Exception as exc:  # handed over as nothing (see the class)
            if not isinstance(exc, _Stopped):
                logger.info("records prefetch gave way to the save's own download (%s)", type(exc).__name__)
            fetched = None
        with self.lock:
            if self.stop.is_set() and fetched is not None:
                _unlink(fetched.path)
                fetched = None
            self.result = fetched

    def take(self, url: str) -> Downloaded | None:
        """The downloaded file when it is this link's and arrived whole (the caller deletes it), else
        None. Waits for the prefetch to end, within the download's own time and byte bounds."""
        if url != self.url:
            self.discard()
            return None
        self.thread.join()
        with self.lock:
            self.stop.set()
            taken, self.result = self.result, None
        return taken

    def discard(self) -> None:
        """Stop it and remove its file; does not wait (a running download ends at its next chunk)."""
        with self.lock:
            self.stop.set()
            dropped, self.result = self.result, None
        if dropped is not None:
            _unlink(dropped.path)


def bundle_prefetch(url: str, *, transport: httpx.BaseTransport | None = None) -> BundlePrefetch | None:
    """Start fetching `url` ahead (see BundlePrefetch); None when prefetching is off."""
    read_limit = int(settings.RECORDS_PREFETCH_MAX_BYTES)
    if read_limit <= 0:
        return None
    return BundlePrefetch(url, read_limit=read_limit, transport=transport)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _check_status(status: int, *, host: str) -> None:
    if status == 200:
        return
    if status in (403, 410):
        raise _expired(f"answered {status}", host=host)
    if 300 <= status < 400:
        raise _fail("redirect refused", host=host)
    if status == 429 or status >= 500:
        raise _fail(f"answered {status}", host=host, transient=True)
    raise _fail(f"answered {status}", host=host)
