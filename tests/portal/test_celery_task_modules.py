"""The worker imports what task bodies import lazily before its pool forks, so no child pays for the
imports inside the first task it runs (in the middle of someone's journey)."""

import ast
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from portal.celery import TASK_MODULES, TaskModulesPreload, app

ROOT = Path(settings.BASE_DIR)


def lazy_imports(path: Path) -> set[str]:
    """Modules imported inside the functions of a tasks module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.module:
                names = [f"{inner.module}.{alias.name}" for alias in inner.names]
                found.update(n for n in names if (ROOT / (n.replace(".", "/") + ".py")).exists())
                if (ROOT / (inner.module.replace(".", "/") + ".py")).exists():
                    found.add(inner.module)
            elif isinstance(inner, ast.Import):
                found.update(alias.name for alias in inner.names)
    return found


def test_the_worker_blueprint_has_the_preload_step():
    assert TaskModulesPreload in app.steps["worker"]


def test_every_module_a_homeport_task_imports_lazily_is_preloaded():
    tasks = [ROOT / app_name / "tasks.py" for app_name in ("ias", "records", "portal", "accounts")]
    lazily = set().union(*(lazy_imports(path) for path in tasks if path.exists()))
    assert "ias.webhooks" in lazily
    assert lazily - {"ias.tasks"} <= set(TASK_MODULES)


def test_building_the_step_imports_them_and_builds_the_tls_context(tmp_path):
    script = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings')\n"
        "django.setup()\n"
        "from portal.celery import TASK_MODULES, TaskModulesPreload\n"
        "before = [m for m in TASK_MODULES if m in sys.modules]\n"
        "from records.http import tls_context\n"
        "TaskModulesPreload(parent=object())\n"
        "after = [m for m in TASK_MODULES if m in sys.modules]\n"
        "print(len(before), len(after), len(TASK_MODULES), tls_context.cache_info().currsize)\n"
    )
    env = {"HOMEPORT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    before, after, total, contexts = map(int, result.stdout.split())
    assert before < total
    assert after == total
    assert contexts == 1
