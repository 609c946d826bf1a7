"""Passkeys need a host name: the development defaults and `bin/run`'s banner say localhost."""

import json
import os
import subprocess
import sys
from pathlib import Path

from portal.management.commands.rundev import browse_url

ROOT = Path(__file__).resolve().parents[2]


def test_bin_run_shows_a_name_not_an_ip_address():
    assert browse_url("127.0.0.1:8000") == "http://localhost:8000/"
    assert browse_url("0.0.0.0:8105") == "http://localhost:8105/"
    assert browse_url("8000") == "http://localhost:8000/"
    assert browse_url("portal.internal:9000") == "http://portal.internal:9000/"


def test_the_development_defaults_use_localhost():
    unset = {"PORTAL_BASE_URL", "SANDBOX_WEBHOOK_URL", "METRIPORT_BASE_URL", "ALLOWED_HOSTS", "DJANGO_DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    code = (
        "import json; from portal import settings as s; print(json.dumps([s.PORTAL_BASE_URL, s.SANDBOX_WEBHOOK_URL,"
        " s.METRIPORT_BASE_URL, s.ALLOWED_HOSTS, s.RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    base, webhook, network, hosts, http_hosts = json.loads(out.stdout.strip().splitlines()[-1])
    assert base == "http://localhost:8000"
    assert webhook == "http://localhost:8000/webhooks/metriport/"
    assert network == "http://localhost:8000/sandbox"
    assert "localhost" in hosts and "127.0.0.1" in hosts
    assert "localhost" in http_hosts
