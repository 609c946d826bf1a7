"""Particle's C-CDA documents as documents of the record.

Particle hands its documents out as one ZIP of C-CDA files (`GET .../ccda`), beside the FHIR
bundle, and its FHIR bundle names no documents. Each XML file in the ZIP becomes a FHIR
DocumentReference holding the file inline, so the record lists it with Particle's other items,
the C-CDA reader shows it and the person can download it; the references travel in the same
bundle as Particle's FHIR resources, so one snapshot holds both and retiring works on both.

The ZIP is read defensively: a bounded number of files, each file's real (not declared) size
capped, a cap on the total, folders and encrypted or non-XML files skipped, and no file name
ever used as a path.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import zipfile
from dataclasses import dataclass

import msgspec

from records import ccda

logger = logging.getLogger(__name__)

MAX_FILES = 500
MAX_TOTAL_BYTES = 200 * 1024 * 1024
CCDA_CONTENT_TYPE = "application/xml"
CCDA_FORMAT = {
    "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
    "code": "urn:hl7-org:sdwg:ccda-structuredBody:2.1",
    "display": "For documents following C-CDA 2.1 constraints using a structured body.",
}


@dataclass(frozen=True)
class CcdaFile:
    name: str
    data: bytes


class _BundleParts(msgspec.Struct):
    resourceType: msgspec.Raw = msgspec.Raw(b"null")
    entry: msgspec.Raw = msgspec.Raw(b"null")


def zip_read(data: bytes) -> list[CcdaFile]:
    """The XML files of Particle's ZIP, within the caps; a ZIP that cannot be read gives none."""
    if not data:
        return []
    found: list[CcdaFile] = []
    total = 0
    skipped = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist()[:MAX_FILES]:
                if info.is_dir() or info.flag_bits & 0x1 or not info.filename.lower().endswith(".xml"):
                    skipped += 1
                    continue
                with archive.open(info) as handle:
                    body = handle.read(ccda.MAX_DOCUMENT_BYTES + 1)
                if len(body) > ccda.MAX_DOCUMENT_BYTES or total + len(body) > MAX_TOTAL_BYTES:
                    skipped += 1
                    continue
                total += len(body)
                found.append(CcdaFile(name=info.filename, data=body))
            skipped += max(0, len(archive.infolist()) - MAX_FILES)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError):
        logger.warning("particle: C-CDA ZIP unreadable; %d documents kept", len(found))
        return found
    if skipped:
        logger.info("particle: C-CDA ZIP held %d files not kept (not XML, encrypted or too large)", skipped)
    return found


def document_reference(file: CcdaFile, *, patient_id: str) -> dict:
    """A DocumentReference that holds the file, named and dated from the document's own header."""
    try:
        header = ccda.ccda_header(file.data)
    except ccda.CcdaUnreadable:
        header = ccda.CcdaHeader(title="", date_text="", type_code="", type_name="", organization="")
    title = header.title or header.type_name
    concept: dict = {"text": title} if title else {}
    if header.type_code:
        concept["coding"] = [
            {"system": "http://loinc.org", "code": header.type_code, "display": header.type_name or title}
        ]
    attachment: dict = {
        "contentType": CCDA_CONTENT_TYPE,
        "data": base64.b64encode(file.data).decode("ascii"),
        "size": len(file.data),
        "hash": base64.b64encode(hashlib.sha1(file.data, usedforsecurity=False).digest()).decode("ascii"),
    }
    if title:
        attachment["title"] = title
    resource: dict = {
        "resourceType": "DocumentReference",
        "id": "ccda-" + hashlib.sha256(file.name.encode()).hexdigest()[:56],
        "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"},
        "content": [{"attachment": attachment, "format": CCDA_FORMAT}],
    }
    if concept:
        resource["type"] = concept
    if title:
        resource["description"] = title
    if header.date_text:
        resource["context"] = {"period": {"start": header.date_text}}
    if header.organization:
        resource["custodian"] = {"type": "Organization", "display": header.organization}
    return resource


def bundle_with_documents(raw: bytes, documents: list[dict]) -> tuple[bytes, bool]:
    """Particle's bundle with the documents' entries added; (bytes, whether the bundle had entries).

    The bundle's own entries are copied as they came (never decoded here), so the records ingest
    still reads each one once.
    """
    try:
        parts = msgspec.json.decode(raw, type=_BundleParts)
    except (msgspec.DecodeError, msgspec.ValidationError):  # the records ingest says why it is refused
        return raw, True
    entries = bytes(parts.entry).strip()
    if entries != b"null" and not entries.startswith(b"["):
        return raw, True
    had_entries = entries != b"null" and entries[1:-1].strip() != b""
    if not documents:
        return raw, had_entries
    added = msgspec.json.encode([{"fullUrl": f"DocumentReference/{d['id']}", "resource": d} for d in documents])
    merged = entries[:-1].rstrip() + b"," + added[1:] if had_entries else added
    head = b'{"resourceType":' + bytes(parts.resourceType) + b',"type":"collection","entry":'
    return head + merged + b"}", had_entries
