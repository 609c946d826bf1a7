"""Small helpers shared by tests: TOTP codes computed independently of allauth, and a local HTTP
server standing in for a host the portal downloads from."""

import base64
import hashlib
import hmac
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def totp_now(secret: str, *, at: float | None = None, period: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP for a base32 secret, computed here so tests don't trust the code under test."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // period)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % (10**digits)
    return str(code).zfill(digits)


def totp_with_time_to_spare(secret: str, *, spare: float = 5.0, period: int = 30) -> str:
    """The current code, waiting first for the next period when fewer than `spare` seconds of this
    one remain: a browser fills the code in and submits it a moment later, and the portal accepts
    only the current period's code, so one computed at 29.8 s was refused at 30.1 s."""
    left = period - time.time() % period
    if left < spare:
        time.sleep(left + 0.05)
    return totp_now(secret, period=period)


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free local port for the block; yields its base URL (no trailing slash)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
