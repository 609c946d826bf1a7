"""Run the whole portal on one machine: web server, Celery worker and its periodic scheduler.

One Ctrl-C (or SIGTERM) stops every process this command started; if one of them dies, the
others are stopped too, so nothing is left running half-alive.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from records.terminology import code_sets_preload


def browse_url(addr: str) -> str:
    """Where to open the portal: a loopback address is shown as `localhost`, because browsers refuse
    passkeys (WebAuthn) on an IP address."""
    host, _, port = addr.rpartition(":")
    if not host or host in {"127.0.0.1", "0.0.0.0", "[::1]", "[::]", "localhost"}:  # noqa: S104 - a comparison
        host = "localhost"
    return f"http://{host}:{port or addr}/"


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and its beat scheduler together (development)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("HOMEPORT_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, addr: str, concurrency: int, **options):
        for folder in ("broker/queue", "broker/processed", "broker/control", "private"):
            (settings.DATA_DIR / folder).mkdir(parents=True, exist_ok=True)
        # Built here, before anything starts, so that no process is stopped in the middle of it.
        code_sets_preload()
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", addr, "--noreload"],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--schedule",
                str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
            ],
        }
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, start_new_session=True)
            self.stdout.write(self.style.SUCCESS(f"Homeport is running on {browse_url(addr)}  (Ctrl-C stops it)"))
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                        stopping = True
                time.sleep(0.5)
        finally:
            self.stdout.write("Stopping the web server and the worker (at most 10 s) ...")
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            self.stdout.write("Stopped.")
