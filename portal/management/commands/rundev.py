"""Run the whole portal on one machine: web server, Celery worker and its periodic scheduler.

One Ctrl-C (or SIGTERM) stops every process this command started; if one of them dies, the
others are stopped too, so nothing is left running half-alive.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. One that has exited and only waits to be reaped (a
    zombie) does not count; where there is no /proc, any process of the group counts."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


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
                    # The leader only: Celery's main process stops its pool and its scheduler itself (a
                    # warm shutdown). Signalled with it, the pool processes died under it, and it logged
                    # each one as an error.
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for process in processes.values():
                # Celery's main process does not wait for its scheduler's process, which saves its
                # schedule file as it stops: it is given until the deadline, then what is left is killed.
                while group_running(process.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            self.stdout.write("Stopped.")
