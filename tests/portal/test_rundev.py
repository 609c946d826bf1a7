"""`bin/run`'s process manager: web server, worker and scheduler come up together and one Ctrl-C stops them all."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(entry.name)
            found |= {child} | _children_of(child)
    return found


def _running(pid: int) -> bool:
    """Whether the process still runs; one that has exited and waits to be reaped (a zombie) does not."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_rundev_serves_and_one_interrupt_stops_everything(tmp_path):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}},
        "HOMEPORT_DATA_DIR": str(tmp_path),
        "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    log = tmp_path / "rundev.log"
    with log.open("wb") as output_file:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rundev", "--addr", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=output_file,
            stderr=subprocess.STDOUT,
        )
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health is not None, "the portal did not answer /healthz within 60 s"
        assert (health["status"], health["database"], health["broker"], health["sandbox"]) == ("ok", True, True, True)
        children = _children_of(process.pid)
        commands = " ".join(
            (Path("/proc") / str(c) / "cmdline").read_text() for c in children if (Path("/proc") / str(c)).exists()
        )
        assert "runserver" in commands and "celery" in commands and "--beat" in commands

        deadline = time.monotonic() + 60
        while " ready." not in log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert " ready." in log.read_text(errors="replace"), "the Celery worker was not ready within 60 s"

        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        output = log.read_text(errors="replace")
        assert process.returncode == 0
        assert "Stopped." in output
        # The worker stops its own pool: none of its processes is reported as killed under it.
        assert "exited with 'signal" not in output and "Traceback" not in output
        # "Stopped." is printed once every process of the command has exited or been killed; one killed
        # last may take a moment more to go.
        deadline = time.monotonic() + 5
        while any(_running(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [c for c in children if _running(c)] == []
    finally:
        if process.poll() is None:
            process.kill()
