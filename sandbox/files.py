"""The network's stored bundles: each linked consolidated bundle is built once and kept as a file.

Metriport writes a patient's consolidated bundle to S3 and presigns links to that object; a download
reads the stored file, it does not rebuild the record. The sandbox does the same under
SANDBOX_FILES_ROOT: a file's name is a digest of everything its bytes depend on (the patient's
generator inputs, the sources finished and half-finished), so every link to the same bundle serves
the same bytes, a newer version (another source finished) is a new file, and no file is rewritten.
Files are kept gzipped, like a `Content-Encoding: gzip` object. Expiry stays with the link.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase

from sandbox import records
from sandbox.conf import conf
from sandbox.models import Patient

SUFFIX = ".json.gz"


def _root() -> Path:
    return Path(conf("SANDBOX_FILES_ROOT"))


def bundle_file_name(*, patient: Patient, sources: Iterable[str], partial: Iterable[str] | None = None) -> str:
    """The stored name of a bundle: a digest of its inputs, so the same bundle always has the same name."""
    done = sorted(set(sources))
    half = sorted(set(partial or ()) - set(done))
    inputs = {
        "patient": patient.id,
        "size": patient.record_size,
        "persona": patient.persona,
        "demographics": records.generator_demographics(patient),
        "shape": str(conf("SANDBOX_RECORD_SHAPE")),
        "sources": done,
        "partial": half,
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    return f"{digest[:40]}{SUFFIX}"


def bundle_file_store(*, patient: Patient, sources: Iterable[str], partial: Iterable[str] | None = None) -> Path:
    """The stored file of this bundle, built now when it is not there yet.

    A lock file per name makes the build happen once even when the network's worker (at link time)
    and a download (a link whose file was swept) ask at the same moment; the bytes are written to a
    temporary name and renamed, so a reader never sees half a file."""
    sources, partial = list(sources), list(partial or ())
    path = _root() / bundle_file_name(patient=patient, sources=sources, partial=partial)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path
        bundle = records.bundle_after_sources(patient, sorted(set(sources)), sorted(set(partial) - set(sources)))
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(records.to_gzip(bundle))
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return path


def bundle_file_response(path: Path, *, accept_encoding: str) -> HttpResponseBase:
    """A stored bundle as JSON: the stored gzip bytes as they are (`Content-Encoding: gzip`) to a client
    that accepts gzip, else unpacked."""
    if "gzip" in accept_encoding.lower():
        stored = FileResponse(path.open("rb"), content_type="application/json")
        del stored["Content-Disposition"]
        stored["Content-Encoding"] = "gzip"
        stored["Vary"] = "Accept-Encoding"
        return stored
    plain = HttpResponse(gzip.decompress(path.read_bytes()), content_type="application/json")
    plain["Vary"] = "Accept-Encoding"
    return plain


def bundle_files_sweep(*, older_than_seconds: float) -> int:
    """Delete stored bundles (and their lock files) written longer ago than every link to them lives.

    A link still valid after its file went is served by building the file again."""
    root = _root()
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in root.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += path.name.endswith(SUFFIX)
    return removed
