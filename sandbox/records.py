"""The simulated network's view of a patient's record: the generated bundle, cut and rendered.

A patient's bundle is regenerated on demand from (patient id, size, persona, demographics): it is
deterministic, so nothing clinical is stored in the sandbox's database.
"""

from __future__ import annotations

import gzip
import html
import io
import json
from functools import lru_cache

from sandbox.conf import conf
from sandbox.generator import bundle_for_sources, document_body, generate_bundle, resource_source

ALWAYS_KEPT = {"Patient", "Organization", "Practitioner", "PractitionerRole", "Location", "Medication"}
RESOURCE_TYPES = {
    "AllergyIntolerance",
    "Condition",
    "Composition",
    "Coverage",
    "DiagnosticReport",
    "Device",
    "DocumentReference",
    "Encounter",
    "FamilyMemberHistory",
    "Immunization",
    "Location",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "Procedure",
    "Provenance",
    "RelatedPerson",
    "ServiceRequest",
    "CarePlan",
    "Goal",
}
_DATE_FIELDS = {
    "Observation": ("effectiveDateTime", "effectivePeriod", "issued"),
    "Condition": ("onsetDateTime", "onsetPeriod", "recordedDate"),
    "Procedure": ("performedDateTime", "performedPeriod"),
    "Immunization": ("occurrenceDateTime",),
    "MedicationRequest": ("authoredOn",),
    "MedicationStatement": ("effectivePeriod", "effectiveDateTime", "dateAsserted"),
    "Encounter": ("period",),
    "DiagnosticReport": ("effectiveDateTime", "issued"),
    "AllergyIntolerance": ("onsetDateTime", "recordedDate"),
    "DocumentReference": ("date",),
    "Provenance": ("recorded",),
    "FamilyMemberHistory": ("date",),
    "Coverage": ("period",),
    "CarePlan": ("period",),
    "Composition": ("date",),
}


def generator_demographics(patient) -> dict:
    d = dict(patient.demographics or {})
    return {
        "id": patient.id,
        "firstName": (d.get("firstName") or "").split(",")[0].strip(),
        "lastName": (d.get("lastName") or "").split(",")[0].strip(),
        "dob": d.get("dob"),
        "genderAtBirth": d.get("genderAtBirth"),
        "address": d.get("address"),
        "contact": d.get("contact"),
    }


CACHE_MAX_RESOURCES = 5000


@lru_cache(maxsize=4)
def _bundle_cached(patient_id: str, size: int, persona: str, demographics_json: str, shape: str) -> dict:
    return generate_bundle(
        seed=patient_id, size=size, persona=persona, demographics=json.loads(demographics_json), shape=shape
    )


def patient_bundle(patient) -> dict:
    """The whole record every source together holds for this patient (do not mutate it)."""
    demo = json.dumps(generator_demographics(patient), sort_keys=True)
    shape = str(conf("SANDBOX_RECORD_SHAPE"))
    if patient.record_size > CACHE_MAX_RESOURCES:
        # A 50k-resource record is quicker to regenerate (well under a second) than to keep in memory.
        return generate_bundle(
            seed=patient.id,
            size=patient.record_size,
            persona=patient.persona,
            demographics=json.loads(demo),
            shape=shape,
        )
    return _bundle_cached(patient.id, patient.record_size, patient.persona, demo, shape)


def bundle_after_sources(patient, sources: list[str], partial: list[str] | None = None) -> dict:
    """The consolidated bundle once `sources` finished and, for `partial`, the first half of theirs."""
    full = patient_bundle(patient)
    bundle = bundle_for_sources(full, list(sources) + list(partial or []))
    if partial:
        counts: dict[str, int] = {}
        for entry in full["entry"]:
            src = resource_source(entry["resource"])
            if src in partial:
                counts[src] = counts.get(src, 0) + 1
        seen: dict[str, int] = {}
        entries = []
        for entry in bundle["entry"]:
            src = resource_source(entry["resource"])
            if src in partial and src not in sources:
                seen[src] = seen.get(src, 0) + 1
                if seen[src] > counts[src] // 2:
                    continue
            entries.append(entry)
        bundle = {**bundle, "entry": entries, "total": len(entries)}
    return bundle


def clinical_date(resource: dict) -> str | None:
    for name in _DATE_FIELDS.get(resource.get("resourceType", ""), ()):
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if value:
            return str(value)
    return None


def bundle_filtered(bundle: dict, *, resources: list[str] | None, date_from: str, date_to: str) -> dict:
    """Consolidated-query filters: resource types, and clinical dates within [dateFrom, dateTo]."""
    wanted = set(resources or ())
    entries = []
    for entry in bundle["entry"]:
        res = entry["resource"]
        rtype = res.get("resourceType")
        if rtype in ALWAYS_KEPT:
            if not wanted or rtype in wanted or rtype == "Patient":
                entries.append(entry)
            continue
        if wanted and rtype not in wanted:
            continue
        when = clinical_date(res)
        if when and date_from and when[: len(date_from)] < date_from[: len(when)]:
            continue
        if when and date_to and when[: len(date_to)] > date_to[: len(when)]:
            continue
        entries.append(entry)
    return {**{k: v for k, v in bundle.items() if k != "entry"}, "total": len(entries), "entry": entries}


def has_clinical_data(bundle: dict) -> bool:
    return any(e["resource"].get("resourceType") not in ALWAYS_KEPT for e in bundle["entry"])


def to_json(bundle: dict) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()


def to_gzip(bundle: dict) -> bytes:
    return gzip.compress(to_json(bundle), compresslevel=5)


def _label(resource: dict) -> str:
    for key in ("code", "vaccineCode", "medicationCodeableConcept", "type"):
        concept = resource.get(key)
        if isinstance(concept, list):
            concept = concept[0] if concept else None
        if isinstance(concept, dict):
            if concept.get("text"):
                return str(concept["text"])
            for coding in concept.get("coding") or ():
                if coding.get("display"):
                    return str(coding["display"])
            for coding in concept.get("coding") or ():
                return str(coding.get("code", ""))
    for key in ("description", "title"):
        if isinstance(resource.get(key), str):
            return resource[key]
    name = resource.get("name")
    if isinstance(name, list) and name and isinstance(name[0], dict):
        return " ".join([*name[0].get("given", []), name[0].get("family", "")])
    return name if isinstance(name, str) else resource.get("resourceType", "")


def _value(resource: dict) -> str:
    q = resource.get("valueQuantity")
    if q:
        return f"{q.get('value')} {q.get('unit', '')}".strip()
    if resource.get("valueString"):
        return str(resource["valueString"])
    if resource.get("component"):
        return " / ".join(str(c.get("valueQuantity", {}).get("value", "")) for c in resource["component"]) + " mm[Hg]"
    return ""


def summary_rows(bundle: dict, limit_per_type: int = 500) -> dict[str, list[tuple[str, str, str]]]:
    rows: dict[str, list[tuple[str, str, str]]] = {}
    for entry in bundle["entry"]:
        res = entry["resource"]
        rtype = res.get("resourceType", "")
        if rtype in ("Organization", "Practitioner", "Provenance"):
            continue
        bucket = rows.setdefault(rtype, [])
        if len(bucket) < limit_per_type:
            bucket.append((clinical_date(res) or res.get("birthDate", "") or "", _label(res), _value(res)))
    for bucket in rows.values():
        bucket.sort(key=lambda r: r[0], reverse=True)
    return rows


def to_html(bundle: dict) -> bytes:
    """A medical-record summary page, every string escaped."""
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Medical record summary</title>'
        "</head><body><h1>Medical record summary</h1><p>Generated by the sandbox network.</p>"
    ]
    for rtype, rows in summary_rows(bundle).items():
        parts.append(
            f"<h2>{html.escape(rtype)}</h2><table><thead><tr><th>Date</th><th>Item</th><th>Value</th>"
            "</tr></thead><tbody>"
        )
        parts.extend(
            f"<tr><td>{html.escape(d)}</td><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>"
            for d, label, value in rows
        )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts).encode()


def to_pdf(bundle: dict) -> bytes:
    """The same summary as a PDF (reportlab), capped per type so that a huge record stays quick."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter)
    _width, height = letter
    y = height - 54

    def line(text: str, size: int = 9) -> None:
        nonlocal y
        if y < 54:
            pdf.showPage()
            y = height - 54
        pdf.setFont("Helvetica-Bold" if size > 9 else "Helvetica", size)
        pdf.drawString(54, y, text[:110])
        y -= size + 5

    line("Medical record summary (sandbox network)", 14)
    for rtype, rows in summary_rows(bundle, limit_per_type=150).items():
        line(rtype, 11)
        for d, label, value in rows:
            line(f"{d[:10]:<12} {label[:70]}  {value}")
    pdf.save()
    return buf.getvalue()


def documents(bundle: dict, patient_id: str) -> list[dict]:
    """DocumentReferences in the network's document-list shape; file name `<patient id>_<docref id>.<ext>`."""
    out = []
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res.get("resourceType") != "DocumentReference":
            continue
        att = res["content"][0]["attachment"]
        ext = "pdf" if att.get("contentType") == "application/pdf" else "xml"
        out.append(
            {
                "id": res["id"],
                "fileName": f"{patient_id}_{res['id']}.{ext}",
                "description": res.get("description", ""),
                "status": res.get("status", "current"),
                "indexed": res.get("date"),
                "mimeType": att.get("contentType"),
                "size": att.get("size") or len(document_body(res)),
                "type": res.get("type"),
            }
        )
    return out


def document_content(bundle: dict, doc_id: str) -> tuple[bytes, str] | None:
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res.get("resourceType") == "DocumentReference" and res["id"] == doc_id:
            att = res["content"][0]["attachment"]
            return document_body(res), att.get("contentType", "application/octet-stream")
    return None
