"""Instructions per webhook delivery in one web process, for callgrind: gunicorn's sync worker
(accept, HTTP parsing, environ, response, close, around the WSGI application), the WSGI
application alone, or the view alone, over the deliveries bench/webhooks.py sends (10% duplicates,
2% bad signatures), with the database and broker the environment names and production's settings
(DEBUG off, as bench/webhooks.py --start runs them; `DJANGO_DEBUG=true` counts the development ones).

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/homeport_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/0
    valgrind --tool=callgrind --dump-before=getsid --callgrind-out-file=cg.out \\
        .venv/bin/python bench/webhook_instructions.py --part gunicorn -n 200
    grep -h '^summary:' cg.out.2    # the measured deliveries' instructions; over 200, one delivery's

The measured deliveries are marked by a call callgrind is told to dump before (`getsid`, which
nothing else here calls): `cg.out.1` holds start-up and warm-up, `cg.out.2` the measured
deliveries alone. Unlike CPU time, instructions do not move with the machine's load, but they
count only what runs in this process, outside the kernel. With `--profile`, cProfile's table of the measured
deliveries instead. In gunicorn mode each delivery comes over loopback TCP from a child process
(not traced), one connection each, as the network sends them; the worker serves it as its sync
worker's loop does (heartbeat, accept, handle). Prints the answers; the rows it stores are deleted.
Not a test: nothing here asserts on counts.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CLIENT = """
import socket, sys
port, n, keep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
payloads = sys.stdin.buffer.read().split(b"\\0SPLIT\\0")[:n]
answers = {}
for payload in payloads:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(payload)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    response = b"".join(chunks)
    if keep:
        with open(keep, "ab") as out:
            out.write(b"\\n".join(l for l in response.split(b"\\r\\n") if not l.startswith(b"Date: ")) + b"\\n--\\n")
    label = response.split(b" ", 2)[1].decode()
    if label == "200":
        label = "duplicate" if b'"duplicate"' in response else "stored"
    answers[label] = answers.get(label, 0) + 1
print(answers)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["gunicorn", "wsgi", "view"], default="gunicorn")
    parser.add_argument("-n", type=int, default=200, help="measured deliveries (0: start-up and warm-up only)")
    parser.add_argument("--warm", type=int, default=50, help="deliveries before the measured ones")
    parser.add_argument("--profile", action="store_true", help="print cProfile's table of the measured deliveries")
    parser.add_argument("--answers", default="", help="gunicorn: append every response (but its Date) to this file")
    parser.add_argument("--gunicorn-args", default="", help="extra gunicorn settings, e.g. '--no-sendfile'")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from webhooks import make_bodies, production_environment

    for name, value in production_environment().items():
        os.environ.setdefault(name, value)
    # gunicorn's own configuration and application loading, as `gunicorn portal.wsgi` does.
    from gunicorn.app.wsgiapp import WSGIApplication

    sys.argv = ["gunicorn", "portal.wsgi", "--log-level", "warning", *args.gunicorn_args.split()]
    app = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")
    application = app.wsgi()

    from django.conf import settings

    from ias.models import WebhookEvent

    # The same deliveries every run (answers and message ids), so that two runs differ only in
    # how many are measured; the rows of a run are deleted at its end.
    run = "instructions"
    prefix = f"bench-{run}-"
    WebhookEvent.objects.filter(message_id__startswith=prefix).delete()
    total = args.warm + args.n
    bodies = make_bodies(total, run, 0.10, 0.02, settings.METRIPORT_WEBHOOK_KEY)
    answers: dict[str, int] = {}
    profiler = cProfile.Profile() if args.profile else None
    try:
        if args.part == "gunicorn":
            answers = serve_gunicorn(app, application, bodies, args, profiler)
        else:
            answers = serve_in_process(application, bodies, args, profiler)
    finally:
        WebhookEvent.objects.filter(message_id__startswith=prefix).delete()
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(60)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(40)
    print(json.dumps({"part": args.part, "warm": args.warm, "measured": args.n, "answers": answers}))


def measured_begin(profiler: Any) -> None:
    """Mark where the measured deliveries begin: `--dump-before=getsid` makes callgrind write what
    came before (start-up and warm-up) to a file of its own, and start counting afresh."""
    os.getsid(0)
    if profiler is not None:
        profiler.enable()


def measured_end(profiler: Any) -> None:
    if profiler is not None:
        profiler.disable()
    os.getsid(0)


def serve_gunicorn(app: Any, application: Any, bodies: list, args: argparse.Namespace, profiler: Any) -> dict:
    from gunicorn.workers.sync import SyncWorker
    from webhooks import wire_requests

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    log = app.cfg.logger_class(app.cfg)
    worker = SyncWorker(1, os.getpid(), [listener], app, app.cfg.timeout, app.cfg, log)
    worker.wsgi = application
    payloads = wire_requests(f"http://127.0.0.1:{port}/webhooks/metriport/", bodies)
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(port), str(len(payloads)), args.answers],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert client.stdin is not None
    client.stdin.write(b"\0SPLIT\0".join(payloads))
    client.stdin.close()
    for i in range(len(payloads)):
        if i == args.warm:
            measured_begin(profiler)
        worker.notify()
        worker.accept(listener)
    measured_end(profiler)
    assert client.stdout is not None
    out = client.stdout.read()
    client.wait()
    worker.tmp.close()
    return eval(out.decode().strip())  # noqa: S307 - our own child's dict of counts


def environ(raw: bytes, signature: str) -> dict:
    """`webhook_cpu.environ` with what gunicorn's sync worker also sets for a delivery."""
    from webhook_cpu import environ as wsgi_environ

    return {
        **wsgi_environ(raw, signature),
        "RAW_URI": "/webhooks/metriport/",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_CONNECTION": "close",
    }


def serve_in_process(application: Any, bodies: list, args: argparse.Namespace, profiler: Any) -> dict:
    """The WSGI application with prepared environs, or the view alone on a request built from one."""
    from django.core.handlers.wsgi import WSGIRequest

    from ias.views import webhook

    answers: dict[str, int] = {}

    def start_response(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], object]:
        return lambda data: None

    def count(status: int, content: bytes) -> None:
        label = str(status)
        if status == 200:
            label = "duplicate" if b'"duplicate"' in content else "stored"
        answers[label] = answers.get(label, 0) + 1

    environs = [environ(raw, signature) for raw, signature, _kind in bodies]
    for i, env in enumerate(environs):
        if i == args.warm:
            measured_begin(profiler)
        if args.part == "wsgi":
            response = application(env, start_response)
            content = b"".join(response)
            response.close()
            count(response.status_code, content)
        else:
            view_response = webhook(WSGIRequest(env))
            count(view_response.status_code, view_response.content)
    measured_end(profiler)
    return answers


if __name__ == "__main__":
    main()
