"""CPU per webhook acknowledgement, in-process: signed deliveries (10% duplicates, 2% bad
signatures, as bench/webhooks.py sends them) through the production WSGI application, with the
database and broker the environment names and production's settings (DEBUG off, as
bench/webhooks.py --start runs them; `DJANGO_DEBUG=true` measures the development ones); no HTTP
server and no load generator.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/homeport_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/webhook_cpu.py --rounds 7 -n 200

On a machine shared with other work the throughput of bench/webhooks.py moves with the neighbours;
the CPU this process spends per acknowledgement moves much less, and the lowest round is the least
disturbed one. The database server's and the broker's own CPU are not counted. The rows it stores
are deleted at the end (their tasks, if a worker runs, find nothing to do); it migrates the database first.
Prints figures; the last line is one JSON object. Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def environ(raw: bytes, signature: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/metriport/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_X_METRIPORT_SIGNATURE": signature,
        "HTTP_USER_AGENT": "Metriport API",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="deliveries per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from webhooks import make_bodies, production_environment

    for name, value in production_environment().items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from ias.models import WebhookEvent
    from portal.wsgi import application

    call_command("migrate", verbosity=0)
    statuses: dict[str, int] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1
        return lambda data: None

    prefix = "bench-cpu-" + uuid.uuid4().hex[:8]

    def one_round(n: int, tag: str) -> float:
        bodies = make_bodies(n, f"{prefix[6:]}-{tag}", 0.10, 0.02, settings.METRIPORT_WEBHOOK_KEY)
        started = time.process_time()
        for raw, signature, _kind in bodies:
            response = application(environ(raw, signature), start_response)
            b"".join(response)
            response.close()
        return (time.process_time() - started) / len(bodies) * 1e6

    try:
        one_round(50, "warm")
        statuses.clear()
        rounds = [one_round(args.n, str(i)) for i in range(args.rounds)]
    finally:
        WebhookEvent.objects.filter(message_id__startswith=prefix).delete()
    result = {
        "benchmark": "webhook-cpu",
        "database": connection.vendor,
        "broker": settings.CELERY_BROKER_URL.split("://")[0],
        "debug": settings.DEBUG,
        "deliveries_per_round": args.n,
        "rounds": args.rounds,
        "cpu_us_per_ack_min": round(min(rounds)),
        "cpu_us_per_ack_median": round(statistics.median(rounds)),
        "statuses": statuses,
    }
    print(
        f"{connection.vendor}, {result['broker']} broker, DEBUG {'on' if settings.DEBUG else 'off'}: "
        f"CPU per acknowledgement, lowest round "
        f"{result['cpu_us_per_ack_min']} us, median {result['cpu_us_per_ack_median']} us "
        f"({args.rounds} rounds of {args.n}; answers {statuses})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
