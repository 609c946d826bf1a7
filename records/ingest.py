"""Read a FHIR Bundle fast and turn each resource into a row; write the rows in bulk.

Reading never holds the whole bundle as Python objects: msgspec splits the `entry` array into raw
byte slices of the (memory-mapped) file, a first pass parses only the few resources other items
refer to (organizations, practitioners, medications, encounters, provenance, the patient), and a
second pass parses and extracts the rest chunk by chunk. Writing uses COPY into a temporary table
and one upsert on PostgreSQL, and a diff plus bulk_create/bulk_update elsewhere.
"""

from __future__ import annotations

import contextvars
import ctypes
import gc
import hashlib
import math
import mmap
import queue
import re
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from django.utils import timezone, translation

from records import fhir, page_language, terminology
from records.errors import BundleInvalid

CHUNK = 2000
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,128}$")
_TYPE_RE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_GOOD_TYPES: set[str] = set()
LOOKUP_TYPES = frozenset(
    {"Organization", "Practitioner", "PractitionerRole", "Medication", "Encounter", "Location", "Provenance", "Patient"}
)

COLUMNS = (
    "resource_type",
    "resource_id",
    "raw",
    "content_hash",
    "category",
    "code_system",
    "code",
    "display",
    "status",
    "clinical_date",
    "clinical_date_text",
    "value_num",
    "value_unit",
    "flag",
    "source_org",
    "network_source",
    "encounter_ref",
    "parent_ref",
    "dedupe_key",
)


class _Bundle(msgspec.Struct):
    resourceType: msgspec.Raw = msgspec.Raw(b"null")
    entry: msgspec.Raw = msgspec.Raw(b"null")


class _ResourceHead(msgspec.Struct):
    resourceType: Any = None
    id: Any = None
    result: Any = None
    hasMember: Any = None


class _EntryHead(msgspec.Struct):
    resource: _ResourceHead | None = None


@dataclass(slots=True)
class Row:
    """One resource ready to write; `raw` is its JSON text."""

    resource_type: str
    resource_id: str
    raw: bytes
    content_hash: str
    category: str
    code_system: str
    code: str
    display: str
    status: str
    clinical_date: datetime | None
    clinical_date_text: str
    value_num: float | None
    value_unit: str
    flag: str
    source_org: str
    network_source: str
    encounter_ref: str
    parent_ref: str
    dedupe_key: str

    def copy_values(self) -> list:
        """The row in `COLUMNS` order, the raw JSON as text (what COPY and the portable insert write)."""
        return [
            self.resource_type,
            self.resource_id,
            self.raw.decode("utf-8"),
            self.content_hash,
            self.category,
            self.code_system,
            self.code,
            self.display,
            self.status,
            self.clinical_date,
            self.clinical_date_text,
            self.value_num,
            self.value_unit,
            self.flag,
            self.source_org,
            self.network_source,
            self.encounter_ref,
            self.parent_ref,
            self.dedupe_key,
        ]


@dataclass
class Lookup:
    """What other resources refer to, indexed by every way a reference may name them."""

    resources: dict[str, dict] = field(default_factory=dict)
    parent_of: dict[str, str] = field(default_factory=dict)
    provenance_by_target: dict[str, list[dict]] = field(default_factory=dict)
    document_sources: dict[str, str] = field(default_factory=dict)
    patient_sex: str = ""
    patient_birth: datetime | None = None
    patient_ids: set[str] = field(default_factory=set)
    network: str = "metriport"

    def add(self, resource: dict, full_url: str) -> None:
        kind, rid = resource.get("resourceType"), resource.get("id")
        keys = [f"{kind}/{rid}"] if isinstance(rid, str) else []
        if full_url:
            keys.append(full_url)
        for key in keys:
            self.resources.setdefault(key, resource)

    def resolve(self, reference: str) -> dict | None:
        found = self.resources.get(reference)
        if found is None and "/" in reference and not reference.startswith("urn:"):
            found = self.resources.get("/".join(reference.rstrip("/").split("/")[-2:]))
            if found is None and "/_history/" in reference:
                found = self.resources.get("/".join(reference.split("/_history/")[0].split("/")[-2:]))
        return found

    def network_source_of(self, resource: dict) -> str:
        """The network source the resource names, else the one its source document names."""
        own = fhir.resource_network_source(resource)
        if own:
            return own
        key = fhir.source_document_key(resource) if "extension" in resource else ""
        return self.document_sources.get(key, "") if key else ""

    def canonical(self, reference: str) -> str:
        """`Type/id` for a reference that names a resource of the bundle, or the reference itself."""
        found = self.resolve(reference) if reference else None
        if found is not None:
            return f"{found.get('resourceType')}/{found.get('id')}"
        return reference


@dataclass
class ParseStats:
    total: int = 0
    skipped: int = 0
    duplicates: int = 0
    by_type: Counter = field(default_factory=Counter)
    by_source: Counter = field(default_factory=Counter)


def open_bundle(path: str) -> tuple[mmap.mmap | bytes, list[msgspec.Raw]]:
    """Map a bundle file and split its `entry` array into raw slices (no per-resource objects yet)."""
    with open(path, "rb") as handle:
        try:
            buffer: mmap.mmap | bytes = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            buffer = b""
    return buffer, split_entries(buffer)


def pages_release(buffer: mmap.mmap | bytes) -> None:
    """Let the kernel take back the bundle's pages read so far: the map stays valid (a page read
    again comes back from the page cache), but they no longer count in this process's memory."""
    if isinstance(buffer, mmap.mmap) and len(buffer) and hasattr(mmap, "MADV_DONTNEED"):
        buffer.madvise(mmap.MADV_DONTNEED)


# The smallest bundle (bytes of JSON) after whose ingest the heap is given back: below it the parse's
# buffers are a few MB, and malloc_trim walks the whole heap (3-4 ms in a worker that has ingested
# before), longer than a small record's save takes to commit.
HEAP_RETURN_MIN_BYTES = 8 * 1024 * 1024


def heap_return_after(bundle_bytes: int) -> bool:
    """Give the heap back (see `heap_return`) after a bundle of at least HEAP_RETURN_MIN_BYTES."""
    return bundle_bytes >= HEAP_RETURN_MIN_BYTES and heap_return()


def heap_return() -> bool:
    """Give the C heap's free memory back to the system (glibc's malloc_trim), as after an ingest.

    glibc keeps what a process frees for its own reuse: after a large bundle, the parse's short-lived
    buffers would stay in the worker's resident memory (tens of MB) until the next ingest, and the
    next one would then start that much higher. False where the C library has no such call."""
    trim = getattr(_LIBC, "malloc_trim", None) if _LIBC is not None else None
    if trim is None:
        return False
    trim(0)
    return True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a bundle is read and written, on again after.

    An ingest allocates millions of short-lived objects (every resource's dicts and lists, every
    row), which reference counting frees as soon as they are dropped; they hold no cycles. The
    collector still ran every few hundred allocations to look for some: about 100 passes for a
    20,000-resource bundle, a tenth of its CPU time, to free a few dozen objects. What cycles an
    ingest leaves are collected by the first pass after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def releasing(chunks: Iterator[list[Row]], buffer: mmap.mmap | bytes) -> Iterator[list[Row]]:
    """The chunks, releasing the pages behind each one once it has been read (the pass is in file order)."""
    for chunk in chunks:
        pages_release(buffer)
        yield chunk


def entries_releasing(entries: list[msgspec.Raw], buffer: mmap.mmap | bytes) -> Iterator[msgspec.Raw]:
    """The entries in file order, releasing the pages read so far every CHUNK entries, so that a
    pass over a large bundle never holds more than a chunk's worth of it in memory."""
    for index, raw in enumerate(entries, 1):
        yield raw
        if index % CHUNK == 0:
            pages_release(buffer)
    pages_release(buffer)


def split_entries(data: Any) -> list[msgspec.Raw]:
    try:
        bundle = msgspec.json.decode(data, type=_Bundle)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BundleInvalid("not a JSON object") from exc
    if bytes(bundle.resourceType) != b'"Bundle"':
        raise BundleInvalid("not a FHIR Bundle")
    if len(bundle.entry) == 4 and bytes(bundle.entry) == b"null":  # never copy a whole entry array to compare
        return []
    try:
        return msgspec.json.decode(bundle.entry, type=list[msgspec.Raw])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BundleInvalid("entry is not a list") from exc


def _resource_of(entry: Any) -> tuple[dict | None, str]:
    if not isinstance(entry, dict):
        return None, ""
    resource = entry.get("resource")
    full_url = entry.get("fullUrl")
    return (resource if isinstance(resource, dict) else None), (full_url if isinstance(full_url, str) else "")


def build_lookup(entries: Iterable[msgspec.Raw]) -> Lookup:
    """First pass: parse only the resources other items point at."""
    lookup = Lookup()
    for raw in entries:
        try:
            head = msgspec.json.decode(raw, type=_EntryHead)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if head.resource is None:
            continue
        _note_children(lookup, head.resource)
        if head.resource.resourceType == "DocumentReference":
            _note_document_source(lookup, raw)
            continue
        if head.resource.resourceType not in LOOKUP_TYPES:
            continue
        resource, full_url = _resource_of(orjson.loads(memoryview(raw)))
        if resource is None or not isinstance(resource.get("id"), str):
            continue
        kind = resource.get("resourceType")
        if kind == "Provenance":
            targets = resource.get("target")
            for target in targets if isinstance(targets, list) else ():
                ref = target.get("reference") if isinstance(target, dict) else None
                if isinstance(ref, str):
                    lookup.provenance_by_target.setdefault(ref, []).append(
                        {
                            "resourceType": "Provenance",
                            "agent": resource.get("agent"),
                            "contained": resource.get("contained"),
                        }
                    )
            continue
        if kind == "Patient":
            lookup.patient_ids.add(resource["id"])
            gender = resource.get("gender")
            lookup.patient_sex = gender.lower() if isinstance(gender, str) else ""
            birth = fhir.parse_fhir_date(resource.get("birthDate"))
            lookup.patient_birth = birth.sort_key if birth else None
        lookup.add(_trim(resource), full_url)
    return lookup


def _note_document_source(lookup: Lookup, raw: msgspec.Raw) -> None:
    """Remember the network source a source document names, for the resources converted from it."""
    document, _full_url = _resource_of(orjson.loads(memoryview(raw)))
    source = fhir.resource_network_source(document) if document is not None else ""
    if source:
        for key in fhir.document_keys(document):
            lookup.document_sources.setdefault(key, source)


def _ref_key(reference: str) -> str:
    """A reference reduced to `Type/id` (absolute and versioned forms too); urn:uuid kept whole."""
    if reference.startswith("urn:") or "/" not in reference:
        return reference
    if "/_history/" in reference:
        reference = reference.split("/_history/")[0]
    return "/".join(reference.rstrip("/").split("/")[-2:])


def _note_children(lookup: Lookup, head: _ResourceHead) -> None:
    """Remember which panel lists a result (DiagnosticReport.result, then Observation.hasMember)."""
    kind, rid = head.resourceType, head.id
    if kind not in ("DiagnosticReport", "Observation") or not isinstance(rid, str):
        return
    refs = head.result if kind == "DiagnosticReport" else head.hasMember
    if not isinstance(refs, list):
        return
    parent = f"{kind}/{rid}"
    for ref in refs[:500]:
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str) and _ref_key(target) != parent:
            if kind == "DiagnosticReport":
                lookup.parent_of[_ref_key(target)] = parent
            else:
                lookup.parent_of.setdefault(_ref_key(target), parent)


def _trim(resource: dict) -> dict:
    """Keep only what resolving names and sources needs."""
    keep = (
        "resourceType",
        "id",
        "name",
        "code",
        "serviceProvider",
        "organization",
        "practitioner",
        "contained",
        "deviceName",
    )
    return {k: resource[k] for k in keep if k in resource}


def _clean(value: str, limit: int) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:limit]


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def _dump(resource: dict) -> bytes:
    """Serialise for storage; PostgreSQL's jsonb refuses the NUL character, so it is replaced."""
    try:
        data = orjson.dumps(resource)
    except (TypeError, orjson.JSONEncodeError):
        data = orjson.dumps(resource, option=orjson.OPT_NON_STR_KEYS)
    if b"\\u0000" in data:
        data = orjson.dumps(_strip_nul(resource), option=orjson.OPT_NON_STR_KEYS)
    return data


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "replace"), digest_size=16).hexdigest()


_MED_TYPES = {"MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense"}
_NEVER_MERGED = ("Encounter", "DocumentReference", "Patient", "Provenance", "Organization")
_ONGOING = ("active", "recurrence", "relapse")
_ONGOING_TYPES = ("Condition", "AllergyIntolerance")  # the only items `dedupe_key` keys by "still going on"


def dedupe_key(
    row_type: str,
    resource_id: str,
    system: str,
    code: str,
    display: str,
    date_text: str,
    value: str,
    *,
    status: str = "",
    ongoing: bool = False,
    network: str = "metriport",
) -> str:
    """Items that are the same clinical fact share a key, whichever organization or network reported
    them; when unsure, the key differs and both are shown.

    Same code (system canonical, else the name) and: a medication, any request, statement or fill
    (the medication pages reconcile them by drug); a result, the same type, day as given and value;
    a condition or allergy, both still going on (active, no end), else the same start day; anything
    else (immunizations, procedures, reports), the same type and day. Visits, documents, refuted or
    mistaken items and items with neither code nor name never merge."""
    what = (code and f"{terminology.canonical_system(system)}|{code}") or display.lower()
    if not what or row_type in _NEVER_MERGED or status in ("entered-in-error", "refuted"):
        return _digest("self", network, row_type, resource_id)  # ids are unique within a network only
    if row_type in _MED_TYPES:  # one drug is one line, however many requests and fills mention it
        return _digest("med", what)
    if row_type in _ONGOING_TYPES and ongoing and status in _ONGOING:
        return _digest(row_type, what, "ongoing")
    return _digest(row_type, what, date_text[:10], value)


def value_key(value_num: float | None, value_unit: str, value_text: str) -> str:
    """A result's value as two networks would both write it (7.2 and 7.20 % are the same)."""
    if value_num is not None:
        return f"{value_num:.6g}|{value_unit}"
    return " ".join(value_text.lower().split())


def _age_at(lookup: Lookup, when: datetime | None) -> float | None:
    if lookup.patient_birth is None or when is None:
        return None
    return (when - lookup.patient_birth).days / 365.25


def extract(resource: dict, *, full_url: str, lookup: Lookup) -> Row | None:
    """The row for one resource, or None when it is not a usable resource."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return None
    if kind not in _GOOD_TYPES:
        if not _TYPE_RE.match(kind):
            return None
        if len(_GOOD_TYPES) < 1000:
            _GOOD_TYPES.add(kind)
    rid = resource.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        tail = full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if full_url else ""
        if not _ID_RE.match(tail):
            return None
        rid = tail
    raw = _dump(resource)
    resolve = lookup.resolve
    date = fhir.clinical_date(resource)
    if kind in _MED_TYPES:
        system, code = fhir.medication_code(resource, resolve=resolve)
    elif kind == "Immunization":
        system, code = fhir.concept_code(resource.get("vaccineCode"))
    elif kind == "Encounter":
        system, code = fhir.concept_code(fhir.first_concept(resource.get("type")))
    elif kind == "DocumentReference":
        system, code = fhir.concept_code(resource.get("type"))
    else:
        system, code = fhir.concept_code(resource.get("code"))
    display = fhir.resource_name(resource, resolve=resolve)
    value_num, value_unit, flag, value_text = None, "", "", ""
    if kind == "Observation":
        measure = fhir.observation_measure(resource, unit_shown=False)
        if measure is not None and math.isfinite(measure.value):
            value_num, value_unit = measure.value, measure.unit_key
        flag = fhir.interpretation_code(
            resource,
            sex=lookup.patient_sex,
            age_years=_age_at(lookup, date.sort_key if date else None),
            measure=measure,
        )
        if value_num is None:  # the value's text keys a result only when it has no number (`value_key`)
            value_text = fhir.observation_value_text(resource)
    provenances = lookup.provenance_by_target.get(f"{kind}/{rid}", [])
    if full_url and not provenances:
        provenances = lookup.provenance_by_target.get(full_url, [])
    source_org = fhir.organization_name(resource, resolve=resolve, provenances=provenances)
    encounter_ref = ""
    ref = fhir.encounter_reference(resource).get("reference")
    if isinstance(ref, str):
        encounter_ref = lookup.canonical(ref)
    if kind == "Encounter":
        encounter_ref = f"Encounter/{rid}"
    parent_ref = ""
    if kind == "Observation":
        parent_ref = lookup.parent_of.get(f"{kind}/{rid}") or lookup.parent_of.get(full_url, "")
    elif kind == "Provenance":
        targets = resource.get("target")
        first = targets[0] if isinstance(targets, list) and targets and isinstance(targets[0], dict) else {}
        if isinstance(first.get("reference"), str):
            parent_ref = lookup.canonical(first["reference"])
    date_text = date.text if date else ""
    display = _clean(display, 500)
    status = _clean(fhir.status_code(resource), 64)
    row = Row(
        resource_type=kind,
        resource_id=rid,
        raw=raw,
        content_hash="",
        category=fhir.category_of(resource),
        code_system=_clean(system, 255),
        code=_clean(code, 128),
        display=display,
        status=status,
        clinical_date=date.sort_key if date else None,
        clinical_date_text=_clean(date_text, 64),
        value_num=value_num,
        value_unit=_clean(value_unit, 64),
        flag=flag,
        source_org=_clean(source_org, 255),
        network_source=lookup.network_source_of(resource),
        encounter_ref=_clean(encounter_ref, 200),
        parent_ref=_clean(parent_ref, 200),
        dedupe_key=dedupe_key(
            kind,
            rid,
            system,
            code,
            display,
            date_text,
            value_key(value_num, value_unit, value_text) if kind == "Observation" else "",
            status=status,
            ongoing=kind in _ONGOING_TYPES and not any(key.startswith("abatement") for key in resource),
            network=lookup.network,
        ),
    )
    digest = hashlib.blake2b(raw, digest_size=16)  # fed in two parts: the raw JSON is not copied to be joined
    digest.update(
        "\x1f".join(
            (row.display, row.source_org, row.network_source, row.encounter_ref, row.parent_ref, row.flag)
        ).encode()
    )
    row.content_hash = digest.hexdigest()
    return row


def iter_rows(entries: list[msgspec.Raw], lookup: Lookup, stats: ParseStats) -> Iterator[list[Row]]:
    """Second pass: rows in chunks, the first occurrence of each (type, id) winning."""
    seen: set[tuple[str, str]] = set()
    chunk: list[Row] = []
    for raw in entries:
        stats.total += 1
        try:
            entry = orjson.loads(memoryview(raw))
        except orjson.JSONDecodeError:
            stats.skipped += 1
            continue
        resource, full_url = _resource_of(entry)
        row = extract(resource, full_url=full_url, lookup=lookup) if resource is not None else None
        if row is None:
            stats.skipped += 1
            continue
        key = (row.resource_type, row.resource_id)
        if key in seen:
            stats.duplicates += 1
            continue
        seen.add(key)
        stats.by_type[row.resource_type] += 1
        if row.source_org:
            stats.by_source[row.source_org] += 1
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Chunks extracted ahead of the one being written (each CHUNK rows, a few MB).
AHEAD_CHUNKS = 1
# How often a read-ahead waiting for room checks whether the save stopped (seconds).
AHEAD_POLL = 0.05


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


class ChunksAhead:
    """Extracts the next chunks of rows in a thread of its own while the caller writes the current one.

    Writing waits on the database for much of its time, and neither waits on Python: SQLite's B-tree
    work and a COPY blocked on a busy PostgreSQL server both let go of Python's lock, so the next
    chunk is extracted meanwhile instead of afterwards. The chunks come in order; the thread speaks
    the caller's language in the caller's time zone and never touches the database. An
    error in the thread is raised where the caller reads the chunk it would have been; leaving the
    block stops the thread at its next chunk, whether or not every chunk was read."""

    def __init__(self, chunks: Iterator[list[Row]], *, depth: int = AHEAD_CHUNKS) -> None:
        self._chunks = chunks
        self._ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._language = translation.get_language()
        self._zone = timezone.get_current_timezone()
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._produce,), name="rows-ahead", daemon=True)

    def _produce(self) -> None:
        try:
            # Django keeps the active language and zone per thread: the caller's are switched on here.
            # They hold for the whole bundle, as for a page, so each lab test is named once per
            # distinct code (`fhir._names_by_code`) rather than once per result.
            with translation.override(self._language), timezone.override(self._zone), page_language.fixed():
                for chunk in self._chunks:
                    if not self._offer(chunk):
                        return
            self._offer(_DONE)
        except BaseException as exc:  # handed to the reader, which raises it in the saving thread
            self._offer(_Failed(exc))
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    def _offer(self, item: Any) -> bool:
        while not self._stopped.is_set():
            try:
                self._ready.put(item, timeout=AHEAD_POLL)
            except queue.Full:
                continue
            return True
        return False

    def __enter__(self) -> ChunksAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def __iter__(self) -> Iterator[list[Row]]:
        while True:
            item = self._ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item


def parse_bytes(data: bytes) -> tuple[list[Row], ParseStats]:
    """Every row of an in-memory bundle (tests and small bundles)."""
    entries = split_entries(data)
    lookup = build_lookup(entries)
    stats = ParseStats()
    rows = [row for chunk in iter_rows(entries, lookup, stats) for row in chunk]
    return rows, stats


def now_utc() -> datetime:
    return datetime.now(UTC)
