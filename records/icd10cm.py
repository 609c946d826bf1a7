"""ICD-10-CM descriptions from a small read-only index file, built once from `simple-icd-10-cm`.

The maintained `simple-icd-10-cm` package carries the full code set, but importing it builds a tree
of about 680,000 Python objects (some 180 MB in every process that names a code, and a long pause
each time the collector walks them). Homeport only needs "code -> description", so a child process
imports the package once, asks it for every item's description, and writes them to an SQLite file
beside Homeport's data (a few MB, mapped by the operating system and shared by every process).
Lookups then cost one indexed read and keep no objects alive.

The index is named after the package's version, so upgrading the package builds a new one. Its
answers are the package's own: every item (chapter, block, category, subcategory) under its own
name, and each dotted code under its undotted spelling too ("E119" names what "E11.9" names).
"""

from __future__ import annotations

import importlib.metadata
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from django.conf import settings

PACKAGE = "simple-icd-10-cm"
INDEX_FORMAT = 1

_local = threading.local()
_build_lock = threading.Lock()


class CodeSetUnavailable(RuntimeError):
    """The index could not be built (the package is missing or failed); codes go unnamed."""


def index_path() -> Path:
    version = importlib.metadata.version(PACKAGE)
    return Path(settings.CODE_SETS_DIR) / f"icd10cm-{version}-v{INDEX_FORMAT}.sqlite3"


def index_write(target: str) -> int:
    """Write every item's description to `target` (run in a child process: it imports the package)."""
    import simple_icd_10_cm as icd

    rows: dict[str, str] = {}
    for code in icd.get_all_codes(with_dots=True):
        rows[code] = icd.get_description(code)
    for code in list(rows):
        if len(code) > 4 and code[3] == ".":
            rows.setdefault(code[:3] + code[4:], rows[code])
    folder = os.path.dirname(target) or "."
    handle, scratch = tempfile.mkstemp(prefix=".icd10cm-", suffix=".sqlite3", dir=folder)
    os.close(handle)
    os.chmod(scratch, 0o644)  # public reference data, read by every process of the deployment
    try:
        with sqlite3.connect(scratch) as db:
            db.execute("CREATE TABLE item (code TEXT PRIMARY KEY, description TEXT NOT NULL) WITHOUT ROWID")
            db.executemany("INSERT INTO item VALUES (?, ?)", sorted(rows.items()))
        db.close()
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return len(rows)


def index_ensure() -> Path:
    """The index file, built first in a child process when it is missing (a few seconds, once)."""
    path = index_path()
    if path.exists():
        return path
    with _build_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            finished = subprocess.run(  # noqa: S603 - our own interpreter and module, a path we chose
                [sys.executable, "-m", "records.icd10cm", str(path)],
                cwd=str(settings.BASE_DIR),
                capture_output=True,
                timeout=300,
                check=False,
            )
            if finished.returncode != 0 or not path.exists():
                raise CodeSetUnavailable(f"building the ICD-10-CM index exited with {finished.returncode}")
    return path


def _connection() -> sqlite3.Connection:
    """This thread's read-only connection to the index (SQLite connections stay in their thread)."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        uri = f"{index_ensure().as_uri()}?mode=ro&immutable=1"
        connection = sqlite3.connect(uri, uri=True)
        _local.connection = connection
    return connection


def description(code: str) -> str:
    """The package's description of an item, with or without its dot, or "" when it is not one."""
    row = _connection().execute("SELECT description FROM item WHERE code = ?", (code,)).fetchone()
    return row[0] if row else ""


if __name__ == "__main__":
    index_write(sys.argv[1])
