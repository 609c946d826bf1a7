"""bench/webhooks.py's load generator: real HTTP/1.1 over TCP, one connection per delivery, the
signature over the exact body, and every answer counted by what its full response said."""

import hashlib
import hmac
import importlib.util
import socket
import socketserver
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "load-generator-test-key"


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_webhooks", ROOT / "bench" / "webhooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Portal(socketserver.ThreadingTCPServer):
    """Answers as the webhook does: 401 for a bad signature, "stored" once per body, then "duplicate"."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: set[bytes] = set()
        self.requests: list[tuple[bytes, dict[str, str], bytes]] = []
        self.lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    server: Portal

    def handle(self) -> None:
        request_line = self.rfile.readline()
        headers: dict[str, str] = {}
        while (line := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = self.rfile.read(int(headers["content-length"]))
        expected = hmac.new(KEY.encode(), raw, hashlib.sha256).hexdigest()
        with self.server.lock:
            self.server.requests.append((request_line, headers, raw))
            if not hmac.compare_digest(expected, headers.get("x-metriport-signature", "")):
                status, body = "401 Unauthorized", b'{"error": "invalid signature"}'
            elif raw in self.server.seen:
                status, body = "200 OK", b'{"status": "duplicate"}'
            else:
                self.server.seen.add(raw)
                status, body = "200 OK", b'{"status": "stored"}'
        # The answer in two writes: the generator must read until the server closes.
        self.wfile.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n".encode())
        self.wfile.flush()
        self.wfile.write(f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


@pytest.fixture
def portal():
    server = Portal()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_every_delivery_is_sent_signed_over_http_and_counted_by_its_answer(portal):
    bench = bench_module()
    bodies = bench.make_bodies(120, "loadtest", 0.10, 0.05, KEY)
    kinds = {k: sum(1 for b in bodies if b[2] == k) for k in ("valid", "duplicate", "bad")}
    assert all(kinds.values()), kinds
    url = f"http://127.0.0.1:{portal.server_address[1]}/webhooks/metriport/"

    latencies, statuses, elapsed = bench.fire(url, bench.wire_requests(url, bodies), 8, 2000.0)

    assert statuses == {"stored": kinds["valid"], "duplicate": kinds["duplicate"], "401": kinds["bad"]}
    assert len(latencies) == len(bodies) and min(latencies) > 0 and elapsed > 0
    assert len(portal.requests) == len(bodies)
    sent = sorted(raw for _line, _headers, raw in portal.requests)
    assert sent == sorted(raw for raw, _sig, _kind in bodies)
    request_line, headers, _raw = portal.requests[0]
    assert request_line == b"POST /webhooks/metriport/ HTTP/1.1\r\n"
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    # As the TLS proxy in front of production's gunicorn marks what it forwards.
    assert headers["x-forwarded-proto"] == "https"
    assert headers["host"] == f"127.0.0.1:{portal.server_address[1]}"


def test_a_portal_that_is_not_there_is_counted_by_the_error_each_delivery_met():
    bench = bench_module()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/webhooks/metriport/"
    bodies = bench.make_bodies(5, "refused", 0.0, 0.0, KEY)

    latencies, statuses, _elapsed = bench.fire(url, bench.wire_requests(url, bodies), 2, 0)

    assert statuses == {"ConnectionRefusedError": 5}
    assert len(latencies) == 5


def test_a_portal_started_here_gets_the_settings_production_requires():
    bench = bench_module()
    environment = bench.production_environment()

    assert environment["DJANGO_DEBUG"] == "false" and environment["SANDBOX_ENABLED"] == "false"
    assert environment["BEHIND_TLS_PROXY"] == "true"
    for secret in ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "METRIPORT_API_KEY", "METRIPORT_WEBHOOK_KEY"):
        assert len(environment[secret]) >= 32, secret
    # Made up for each run, never a key written down in the repository.
    assert bench.production_environment()["METRIPORT_WEBHOOK_KEY"] != environment["METRIPORT_WEBHOOK_KEY"]
