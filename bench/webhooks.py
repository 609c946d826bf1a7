"""Webhook endpoint benchmark: N signed deliveries (10% duplicates, some bad signatures) at
concurrency C, paced at a target rate, against a portal under gunicorn; then waits until every
unique valid event is processed by the workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hp_ias CELERY_BROKER_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python bench/webhooks.py --start -n 2000 -c 20 --rate 200

`--start` migrates the database and starts gunicorn and a Celery worker itself, with the settings
production runs (`DJANGO_DEBUG=false`, secrets made up for the run, behind a TLS proxy: each delivery
carries the `X-Forwarded-Proto` a proxy adds); a variable already set in the environment is kept, so
`DJANGO_DEBUG=true` measures the development settings. Without it, `--url` targets a portal that is
already running (same DATABASE_URL and METRIPORT_WEBHOOK_KEY, to sign and count processed events).
`--steps 100,200,400,800` steps the rate up (10 s of load each, `--seconds`) and prints, per step, the
achieved rate, p50/p95/p99, lost events and, with `--start`, the CPU each part of the layout spent per
delivery (web, worker, database, broker, this load generator), then the capacity: the highest rate whose
p99 stayed under 50 ms (`--p99-limit`) with nothing lost.
Prints figures; the last line is one JSON object. Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import hmac
import json
import os
import random
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_environment() -> dict[str, str]:
    """The environment of the README's production layout for a portal started here: DEBUG off (Django
    then keeps no log of each statement, which formats every parameter), the secrets production
    requires (made up for this run), and the TLS proxy production sits behind."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "METRIPORT_API_KEY": secrets.token_urlsafe(24),
        "METRIPORT_WEBHOOK_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "true",
        "SANDBOX_ENABLED": "false",
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def make_bodies(n: int, run_id: str, dup_share: float, bad_share: float, key: str):
    """(raw, signature, kind) for each delivery: "valid", "duplicate" or "bad"."""
    rng = random.Random(run_id)
    out: list[tuple[bytes, str, str]] = []
    sent_valid: list[tuple[bytes, str]] = []
    types = [
        "medical.document-download",
        "network-query.hie",
        "medical.document-conversion",
        "brand.new.type",
    ]
    for i in range(n):
        roll = rng.random()
        if sent_valid and roll < dup_share:
            raw, sig = rng.choice(sent_valid)
            out.append((raw, sig, "duplicate"))
            continue
        body = {
            "meta": {
                "messageId": f"bench-{run_id}-{i}",
                "when": "2026-01-01T00:00:00.000Z",
                "type": types[i % len(types)],
                "requestId": f"bench-req-{i % 50}",
            },
            "patients": [{"patientId": f"bench-pat-{i % 200}", "status": "completed", "documents": []}],
            "payload": {
                "patientId": f"bench-pat-{i % 200}",
                "source": {"type": "hie", "status": "completed"},
            },
        }
        raw = orjson.dumps(body)
        sig = hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
        if roll < dup_share + bad_share:
            out.append((raw, "0" * 64, "bad"))
        else:
            out.append((raw, sig, "valid"))
            sent_valid.append((raw, sig))
    return out


def wire_requests(url: str, bodies) -> list[bytes]:
    """Each delivery as the bytes sent on its connection: the HTTP/1.1 request line, headers and
    body, built (and signed, in make_bodies) before a step starts, so the step's load generator only
    sends and receives."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    return [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(raw)}\r\nx-metriport-signature: {sig}\r\nuser-agent: Metriport API\r\n"
            "x-forwarded-proto: https\r\nconnection: close\r\n\r\n"
        ).encode()
        + raw
        for raw, sig, _kind in bodies
    ]


def answer_label(response: bytes) -> str:
    """What a delivery's full HTTP response says: stored, duplicate, or its status code."""
    status_line, _, rest = response.partition(b"\r\n")
    status = int(status_line.split()[1])
    if status == 200:
        return "duplicate" if b'"duplicate"' in rest else "stored"
    return str(status)


class _Delivery:
    __slots__ = ("chunks", "due", "payload", "sock")

    def __init__(self, sock: socket.socket, payload: bytes, due: float) -> None:
        self.sock, self.payload, self.due = sock, payload, due
        self.chunks: list[bytes] = []


def fire(url: str, requests: list[bytes], concurrency: int, rate: float):
    """Send every request, each on its own connection as the network makes them, paced at `rate`
    per second with at most `concurrency` in flight; returns (latencies in ms, answers, seconds).

    Latency runs from the moment a delivery was due (not from when a free slot let it go) to the
    last byte of its response, so a portal that falls behind shows it in the percentiles instead of
    hiding it. One thread, non-blocking sockets and the operating system's readiness queue (epoll
    on Linux), rather than asyncio's streams and tasks: the load generator shares the machine's two
    cores with what it measures, and this is a fraction of the CPU per request."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    selector = selectors.DefaultSelector()
    in_flight = 0
    total = len(requests)
    following = 0
    start = time.perf_counter()

    def finish(delivery: _Delivery, label: str) -> None:
        nonlocal in_flight
        latencies.append((time.perf_counter() - delivery.due) * 1000)
        statuses[label] = statuses.get(label, 0) + 1
        selector.unregister(delivery.sock)
        delivery.sock.close()
        in_flight -= 1

    def send(delivery: _Delivery, *, registered: bool) -> None:
        """Write what is left of the request, then wait for the response (or for room to write the rest)."""
        try:
            sent = delivery.sock.send(delivery.payload)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ENOTCONN):  # not yet connected, or no room yet
                raise
            sent = 0
        delivery.payload = delivery.payload[sent:]
        events = selectors.EVENT_WRITE if delivery.payload else selectors.EVENT_READ
        if registered:
            selector.modify(delivery.sock, events, delivery)
        else:
            selector.register(delivery.sock, events, delivery)

    try:
        while following < total or in_flight:
            now = time.perf_counter()
            while following < total and in_flight < concurrency:
                due = start + (following / rate if rate > 0 else 0.0)
                if due > now:
                    break
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                delivery = _Delivery(sock, requests[following], due)
                following += 1
                in_flight += 1
                error = sock.connect_ex(address)
                if error in (0, errno.EINPROGRESS):
                    try:
                        # On loopback the connection is usually up already: no wait for writability.
                        send(delivery, registered=False)
                        continue
                    except OSError as exc:
                        error = exc.errno or errno.EIO
                selector.register(sock, selectors.EVENT_WRITE, delivery)
                finish(delivery, type(OSError(error, os.strerror(error))).__name__)
            if following >= total and not in_flight:
                break
            if following < total and in_flight < concurrency:
                timeout: float | None = max(0.0, start + following / rate - time.perf_counter()) if rate > 0 else 0.0
            else:
                timeout = None
            for key, mask in selector.select(timeout):
                delivery = key.data
                try:
                    if mask & selectors.EVENT_WRITE:
                        error = delivery.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if error:
                            raise OSError(error, os.strerror(error))
                        send(delivery, registered=True)
                        continue
                    data = delivery.sock.recv(65536)
                except OSError as exc:
                    finish(delivery, type(exc).__name__)
                    continue
                if data:
                    delivery.chunks.append(data)
                    continue
                try:
                    label = answer_label(b"".join(delivery.chunks))
                except (ValueError, IndexError) as exc:
                    label = type(exc).__name__
                finish(delivery, label)
    finally:
        selector.close()
    elapsed = time.perf_counter() - start
    return latencies, statuses, elapsed


class CpuMeter:
    """CPU seconds each part of the layout spends, read from the operating system: the web server
    (gunicorn and its workers), the Celery worker and its pool, the PostgreSQL backends serving the
    database, the Redis server (the whole server: other databases' work on it counts too) and this
    load generator. Divided by the events a step stored, it is the cost of one event for the whole
    system, which a shared machine's throughput hides."""

    def __init__(self, *, web_pid: int, worker_pid: int, database: str, broker_url: str) -> None:
        self.web_pid, self.worker_pid = web_pid, worker_pid
        self.database = f" {database} "
        self.broker_port = f":{urlsplit(broker_url).port or 6379}"

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return times.user + times.system

    def _tree(self, pid: int) -> dict[int, float]:
        try:
            root = psutil.Process(pid)
            return {p.pid: self._cpu(p) for p in [root, *root.children(recursive=True)]}
        except psutil.Error:
            return {}

    def _servers(self) -> tuple[dict[int, float], dict[int, float]]:
        database: dict[int, float] = {}
        broker: dict[int, float] = {}
        for proc in psutil.process_iter(["name", "cmdline"]):
            command = " ".join(proc.info["cmdline"] or [])
            try:
                if command.startswith("postgres:") and self.database in command:
                    database[proc.pid] = self._cpu(proc)
                elif (proc.info["name"] or "").startswith("redis-server") and self.broker_port in command:
                    broker[proc.pid] = self._cpu(proc)
            except psutil.Error:
                continue
        return database, broker

    def snapshot(self) -> dict[str, dict[int, float]]:
        database, broker = self._servers()
        return {
            "web": self._tree(self.web_pid),
            "worker": self._tree(self.worker_pid),
            "database": database,
            "broker": broker,
            "load": {os.getpid(): self._cpu(psutil.Process())},
        }

    @staticmethod
    def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds per part between two snapshots; a process born in between counts from zero."""
        return {
            part: sum(cpu - before.get(part, {}).get(pid, 0.0) for pid, cpu in after[part].items()) for part in after
        }


def worker_priority_command(priority: str) -> list[str]:
    """The command prefix that starts the Celery worker at `priority`: idle or a niceness."""
    return ["chrt", "--idle", "0"] if priority == "idle" else ["nice", "-n", str(int(priority))]


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, headers={"x-forwarded-proto": "https"}).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"portal did not come up at {url}")


def warm_up(base: str, key: str, event_model, wait: float) -> None:
    """Steady state before measuring: every web process has served requests and the worker is
    consuming (its start-up would otherwise compete with the first measured second)."""
    run_id = "warmup-" + uuid.uuid4().hex[:8]
    url = f"{base}/webhooks/metriport/"
    fire(url, wire_requests(url, make_bodies(60, run_id, 0.0, 0.0, key)), 4, 30.0)
    deadline = time.monotonic() + wait
    pending = event_model.objects.filter(message_id__startswith=f"bench-{run_id}-", status="pending")
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.3)


def run_step(base: str, key: str, event_model, args, *, rate: float, count: int, meter: CpuMeter | None = None) -> dict:
    """One load step: send `count` deliveries at `rate`, then wait until what was stored is processed.

    Lost means a unique valid delivery that was not stored (whatever the answer was); not processed
    means stored but still pending when the wait ran out.
    """
    run_id = uuid.uuid4().hex[:10]
    bodies = make_bodies(count, run_id, args.duplicates, args.bad, key)
    kinds = {k: sum(1 for b in bodies if b[2] == k) for k in ("valid", "duplicate", "bad")}
    print(f"\nstep {rate:g}/s: sending {count} webhooks at concurrency {args.c}: {kinds}")
    url = f"{base}/webhooks/metriport/"
    requests = wire_requests(url, bodies)
    before = meter.snapshot() if meter else None
    latencies, statuses, elapsed = fire(url, requests, args.c, rate)
    load_cpu = meter.snapshot()["load"] if meter else None
    prefix = f"bench-{run_id}-"
    t0 = time.monotonic()
    stored = event_model.objects.filter(message_id__startswith=prefix).count()
    processed = 0
    while time.monotonic() - t0 < args.wait:
        processed = event_model.objects.filter(message_id__startswith=prefix).exclude(status="pending").count()
        if processed >= stored:
            break
        time.sleep(0.5)
    cpu_us: dict[str, float] = {}
    if meter and before and load_cpu is not None:
        spent = CpuMeter.spent(before, {**meter.snapshot(), "load": load_cpu})
        cpu_us = {part: round(seconds / max(1, count) * 1e6) for part, seconds in spent.items()}
        cpu_us["total"] = sum(cpu_us.values())
    result = {
        "target_rps": rate,
        "sent": count,
        "achieved_rps": round(count / elapsed, 1),
        "accepted": statuses.get("stored", 0),
        "duplicates": statuses.get("duplicate", 0),
        "rejected": sum(v for k, v in statuses.items() if k not in ("stored", "duplicate")),
        "statuses": statuses,
        "unique_valid_sent": kinds["valid"],
        "stored": stored,
        "lost": max(0, kinds["valid"] - stored),
        "processed": processed,
        "not_processed": stored - processed,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "processing_drain_s": round(time.monotonic() - t0, 1),
        "concurrency": args.c,
        "web_workers": args.web_workers,
        "worker_priority": args.worker_priority,
        "worker_concurrency": args.worker_concurrency,
        "threads": args.threads,
        "cpu_us_per_delivery": cpu_us,
    }
    print(
        f"  achieved {result['achieved_rps']}/s; ack latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms (max {result['max_ms']} ms)"
    )
    print(
        f"  accepted {result['accepted']}, duplicates {result['duplicates']}, rejected {result['rejected']}, "
        f"lost {result['lost']}, processed {processed}/{stored} (drained {result['processing_drain_s']} s after)"
    )
    if cpu_us:
        print("  CPU per delivery (us): " + ", ".join(f"{part} {us:g}" for part, us in cpu_us.items()))
    sys.stdout.flush()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("-c", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0, help="target requests/s (0 = as fast as possible)")
    parser.add_argument("--url", default="", help="base URL of a running portal")
    parser.add_argument("--start", action="store_true", help="start gunicorn and a worker here")
    parser.add_argument("--port", type=int, default=0, help="with --start: gunicorn's port (0 = any free one)")
    # Three sync workers measured best on two cores shared with PostgreSQL, Redis, the Celery worker
    # and this load generator (at 400/s with two pool processes: 2 gave p99 306 ms, 3 98-110 ms, 4 107
    # ms, 6 123 ms).
    parser.add_argument("--web-workers", type=int, default=3)
    # The acknowledgement is what the network waits for; processing can trail by seconds. The worker
    # runs at Linux's idle scheduling class (it gets a core only when nothing else wants it), as the
    # README's production layout says (at nice 10 it still takes about a tenth of a contended core).
    parser.add_argument(
        "--worker-priority",
        default="idle",
        help="the Celery worker's CPU priority: idle (SCHED_IDLE) or a niceness, e.g. 10 (0 = the web's)",
    )
    # One pool process: the worker's own CPU is idle-class, but the database backend serving each of
    # its processes is not, and with two of them the acknowledgements at 400/s waited behind their
    # statements (p99 55-110 ms; with one, 8-10 ms, and 5 ms with no worker at all). Processing drains
    # more slowly after a burst, which the network does not wait for.
    parser.add_argument("--worker-concurrency", type=int, default=1, help="the Celery worker's pool processes")
    # The acknowledgement mostly waits (the event row's commit, the broker's publish), so threads
    # let a web process take the next delivery meanwhile; 1 = sync workers.
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per web worker (gthread when > 1)")
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--bad", type=float, default=0.02)
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for processing")
    parser.add_argument(
        "--steps", default="", help="rates to step through, e.g. 100,200,400,800 (overrides --rate, -n)"
    )
    parser.add_argument("--seconds", type=float, default=10, help="with --steps: seconds of load per step")
    parser.add_argument("--p99-limit", type=float, default=50, help="the p99 (ms) a step must stay under")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if args.start:
        for name, value in production_environment().items():
            os.environ.setdefault(name, value)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from ias.models import WebhookEvent

    procs: list[subprocess.Popen] = []
    logs = Path(settings.DATA_DIR) / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    base = args.url.rstrip("/")
    if args.start:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
        port = args.port or free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PORTAL_BASE_URL": base}
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "portal.wsgi",
                    "-b",
                    f"127.0.0.1:{port}",
                    "-w",
                    str(args.web_workers),
                    "-k",
                    "gthread" if args.threads > 1 else "sync",
                    "--threads",
                    str(args.threads),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=(logs / "gunicorn.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    *worker_priority_command(args.worker_priority),
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--concurrency",
                    str(args.worker_concurrency),
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=(logs / "worker.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    if not base:
        raise SystemExit("give --url or --start")
    meter = None
    if procs:
        meter = CpuMeter(
            web_pid=procs[0].pid,
            worker_pid=procs[1].pid,
            database=str(settings.DATABASES["default"]["NAME"]),
            broker_url=settings.CELERY_BROKER_URL,
        )
    try:
        wait_ready(f"{base}/healthz")
        warm_up(base, settings.METRIPORT_WEBHOOK_KEY, WebhookEvent, args.wait)
        print(
            f"database={connection.vendor} broker={settings.CELERY_BROKER_URL.split('://')[0]} target={base} "
            f"settings={'development (DEBUG on)' if settings.DEBUG else 'production (DEBUG off)'}"
        )
        rates = [float(r) for r in args.steps.split(",")] if args.steps else [args.rate]
        steps = []
        for rate in rates:
            count = args.n if not args.steps else max(200, int(rate * args.seconds))
            steps.append(
                run_step(base, settings.METRIPORT_WEBHOOK_KEY, WebhookEvent, args, rate=rate, count=count, meter=meter)
            )
            time.sleep(2)
        good = [s for s in steps if s["p99_ms"] < args.p99_limit and s["lost"] == 0 and s["not_processed"] == 0]
        capacity = max((s["target_rps"] for s in good), default=0)
        print(
            f"\ncapacity: {capacity:g}/s is the highest rate tried whose p99 stayed under {args.p99_limit:g} ms "
            f"with nothing lost ({args.web_workers} gunicorn workers, one worker: "
            f"{args.worker_concurrency} pool process(es) at {args.worker_priority})"
        )
        print(json.dumps({"benchmark": "webhooks", "debug": settings.DEBUG, "steps": steps, "capacity_rps": capacity}))
    finally:
        for proc in procs:
            try:
                os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                proc.kill()


if __name__ == "__main__":
    main()
