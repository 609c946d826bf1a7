"""axe-core for the browser tests: installed from the npm registry into `.data/` on first use (like
Metriport's SDK in tests/sandbox/test_metriport_sdk.py) and run inside a Playwright page."""

import shutil
import subprocess
from pathlib import Path

from django.conf import settings

AXE = "axe-core@4.14.1"


def axe_script() -> Path:
    """The path of axe.min.js, installing the pinned axe-core once per data folder."""
    folder = Path(settings.DATA_DIR) / "axe" / AXE.replace("@", "-")
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm, "npm (Node.js) is needed to install axe-core"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder), AXE],
            check=True,
            timeout=300,
        )
    return script


def axe_violations(page, script: Path) -> list[dict]:
    """Every violation axe-core finds on the page: id, impact and up to three nodes with their summary."""
    page.add_script_tag(path=str(script))
    return page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + n.failureSummary)})) }"
    )
