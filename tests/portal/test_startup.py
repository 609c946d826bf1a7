"""A web process sets aside from the garbage collector what it loaded at start, views included."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["portal.wsgi", "portal.asgi"])
def test_the_web_process_freezes_what_it_loaded_at_start(module):
    probe = f"import gc, sys, {module}; print(gc.get_freeze_count(), 'records.views' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    frozen, views_loaded = out.stdout.split()
    assert int(frozen) > 50_000
    assert views_loaded == "True"
