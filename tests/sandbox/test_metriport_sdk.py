"""Metriport's own published SDK (`@metriport/api-sdk`, pinned) against the sandbox over real HTTP.

The SDK parses responses with its own zod schemas, so a field the sandbox shapes differently from
the real network fails here. The SDK is installed from the npm registry into `.data/` on first use.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.sandbox.conftest import API_KEY

SDK = "@metriport/api-sdk@18.20.0"
SCRIPT = Path(__file__).with_name("sdk_check.js")

pytestmark = pytest.mark.django_db(transaction=True)


def _sdk_folder() -> Path:
    folder = Path(settings.DATA_DIR) / "sdk-check" / SDK.replace("/", "_").replace("@", "")
    if not (folder / "node_modules" / "@metriport" / "api-sdk").exists():
        npm = shutil.which("npm")
        assert npm, "npm (Node.js) is needed to run Metriport's SDK against the sandbox"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), SDK],
            check=True,
            timeout=300,
        )
    return folder


def test_metriports_sdk_cannot_tell_the_sandbox_from_the_network(live_server, receiver):
    folder = _sdk_folder()
    result = subprocess.run(
        ["node", str(SCRIPT)],
        cwd=folder,
        env={
            **os.environ,
            "NODE_PATH": str(folder / "node_modules"),
            "BASE_URL": f"{live_server.url}/sandbox",
            "API_KEY": API_KEY,
            "FACILITY_ID": settings.METRIPORT_FACILITY_ID,
            "WEBHOOK_URL": receiver.url,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    steps = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    deleted = steps.pop("getPatient after delete")
    assert {name: outcome for name, outcome in steps.items() if outcome != "ok"} == {}
    assert len(steps) == 16
    assert deleted.startswith("404 ")
    assert any("ping" in json.loads(r["raw"]) for r in receiver.requests)
