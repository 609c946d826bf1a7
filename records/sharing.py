"""SMART Health Links (HL7 SMART Health Cards and Links IG, STU1): a person shares a frozen summary.

A share is made in one request: a random 32-byte key is drawn, the summary (an International Patient
Summary-shaped FHIR document Bundle, and the same summary as a PDF inside a DocumentReference) is
encrypted with it as compact JWE (`dir`, `A256GCM`), and only the ciphertext is stored. The key goes
into the `shlink:/` link shown once to the person and is never kept: the server cannot read a share.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from joserfc import jwe
from joserfc.jwk import OctKey

from accounts.models import AccessLogEntry, User
from records.models import Resource, Share, ShareFile, ShareOpening
from records.selectors import to_item
from records.sharing_selectors import (
    REQUIRED_SECTIONS,
    SECTIONS_BY_SLUG,
    SharedSection,
    patient_resource_for,
    share_referenced_resources,
    share_sections_for,
)

log = logging.getLogger(__name__)

MIN_LIFETIME = timedelta(hours=1)
MAX_LIFETIME = timedelta(days=90)
# A link that lives longer than a day is meant to be kept and opened again: the `L` flag.
LONG_LIVED = timedelta(days=1)
MAX_PASSCODE_FAILURES = 10
LOCATION_MAX_AGE_SECONDS = 3600
LABEL_MAX = 80
RECIPIENT_MAX = 120
FHIR_VERSION = "4.0.1"
LOINC = "http://loinc.org"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")
_FILE_SALT = "records.share-file"


class ShareError(ValueError):
    """A share cannot be made as asked; the message is a sentence for the person."""


@dataclass(frozen=True)
class ShareCreated:
    share: Share
    shlink: str
    viewer_url: str


@dataclass(frozen=True)
class ManifestAnswer:
    status: int
    body: dict


def clean_text(value: str, *, limit: int) -> str:
    """One line of user-typed text: no control characters, single spaces, at most `limit` characters."""
    return " ".join(_CONTROL_CHARS.sub(" ", value or "").split())[:limit]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def manifest_url(manifest_id: str) -> str:
    return settings.PORTAL_BASE_URL + reverse("share:manifest", args=[manifest_id])


def viewer_base_url() -> str:
    return settings.PORTAL_BASE_URL + reverse("share:viewer")


def share_flag(*, has_passcode: bool, lifetime: timedelta) -> str:
    """Single-character flags in alphabetical order: L (long-term use), P (passcode). Never U: we
    serve two files through a manifest."""
    flags = ("L" if lifetime > LONG_LIVED else "") + ("P" if has_passcode else "")
    return "".join(sorted(flags))


def shlink_payload(*, share: Share, key: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "url": manifest_url(share.manifest_id),
        "key": b64url(key),
        "exp": int(share.expires_at.timestamp()),
    }
    if share.flag:
        payload["flag"] = share.flag
    payload["label"] = share.label
    payload["v"] = 1
    return payload


def shlink_encode(payload: dict[str, Any]) -> str:
    minified = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return "shlink:/" + b64url(minified)


def jwe_encrypt(*, key: bytes, plaintext: bytes, content_type: str) -> str:
    """Compact JWE with the link's key, as the specification asks: alg dir, enc A256GCM, cty."""
    header = {"alg": "dir", "enc": "A256GCM", "cty": content_type}
    return jwe.encrypt_compact(header, plaintext, OctKey.import_key(key))


# ---------------------------------------------------------------- the shared documents


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _reference_keys(resource: Resource) -> list[str]:
    keys = [f"{resource.resource_type}/{resource.resource_id}"]
    if re.fullmatch(r"[0-9a-fA-F-]{36}", resource.resource_id):
        keys.append(f"urn:uuid:{resource.resource_id}")
    return keys


def _collect_references(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            found.add(ref)
        for child in value.values():
            _collect_references(child, found)
    elif isinstance(value, list):
        for child in value:
            _collect_references(child, found)


def _rewrite_references(value: Any, mapping: dict[str, str], patient_url: str) -> Any:
    """Point every reference at an entry of the bundle; one that is not in it keeps only its words."""
    if isinstance(value, list):
        return [_rewrite_references(child, mapping, patient_url) for child in value]
    if not isinstance(value, dict):
        return value
    out = {key: _rewrite_references(child, mapping, patient_url) for key, child in value.items()}
    ref = value.get("reference")
    if isinstance(ref, str) and not ref.startswith("#"):
        target = mapping.get(ref)
        if target is None and (ref.startswith("Patient/") or "/Patient/" in ref):
            target = patient_url
        if target is not None:
            out["reference"] = target
        else:
            out.pop("reference")
            out.setdefault("display", "Not included in this share")
    return out


def _patient_resource(*, user: User, patient_raw: dict | None) -> dict:
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if patient_raw:
        for key in ("identifier", "name", "gender", "birthDate", "telecom", "address"):
            if patient_raw.get(key):
                patient[key] = patient_raw[key]
    if not patient.get("name") and user.full_name:
        patient["name"] = [{"text": user.full_name}]
    if not patient.get("name"):
        patient["name"] = [{"text": user.email}]
    return patient


def _item_line(resource: Resource) -> tuple[str, str, str]:
    display = to_item(resource).display
    detail = display.value or display.status
    if display.flag and display.flag.abnormal:
        detail = f"{detail} ({display.flag.label})" if detail else display.flag.label
    date = display.date.display if display.date else ""
    return display.name, date, detail


def _section_narrative(section: SharedSection) -> str:
    if not section.resources:
        body = "<p>None on record.</p>"
    else:
        rows = []
        for resource in section.resources:
            name, date, detail = _item_line(resource)
            words = " — ".join(part for part in (name, date, detail) if part)
            rows.append(f"<li>{html.escape(words)}</li>")
        body = "<ul>" + "".join(rows) + "</ul>"
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'


def ips_bundle(
    *, user: User, sections: list[SharedSection], extra: list[Resource], patient_raw: dict | None, made_at: datetime
) -> dict:
    """A FHIR document Bundle shaped like the International Patient Summary: Composition first, then
    the Patient and every item, all references pointing inside the bundle."""
    patient_url = _urn()
    composition_url = _urn()
    # Ids and references are unique within one network only: each network's items point at its own.
    mapping: dict[str, dict[str, str]] = {}
    included: list[tuple[str, Resource]] = []
    for resource in [r for s in sections for r in s.resources] + extra:
        own = mapping.setdefault(resource.network, {})
        if any(key in own for key in _reference_keys(resource)):
            continue
        url = _urn()
        for key in _reference_keys(resource):
            own[key] = url
        included.append((url, resource))
    timestamp = made_at.isoformat(timespec="seconds")
    composition_sections = []
    present = {s.spec.slug for s in sections}
    for slug in REQUIRED_SECTIONS:
        if slug not in present:
            sections = [*sections, SharedSection(spec=SECTIONS_BY_SLUG[slug])]
    for section in sections:
        spec = section.spec
        entry: dict[str, Any] = {
            "title": spec.title,
            "code": {"coding": [{"system": LOINC, "code": spec.loinc, "display": spec.loinc_display}]},
            "text": {"status": "generated", "div": _section_narrative(section)},
        }
        refs = [{"reference": mapping[r.network][_reference_keys(r)[0]]} for r in section.resources]
        if refs:
            entry["entry"] = refs
        else:
            entry["emptyReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                        "code": "unavailable",
                        "display": "Unavailable",
                    }
                ]
            }
        composition_sections.append(entry)
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": {"reference": patient_url},
        "date": timestamp,
        "author": [{"reference": patient_url}],
        "title": "Patient summary",
        "confidentiality": "N",
        "section": composition_sections,
    }
    entries = [
        {"fullUrl": composition_url, "resource": composition},
        {"fullUrl": patient_url, "resource": _patient_resource(user=user, patient_raw=patient_raw)},
    ]
    for url, resource in included:
        raw = resource.raw if isinstance(resource.raw, dict) else {}
        entries.append({"fullUrl": url, "resource": _rewrite_references(raw, mapping[resource.network], patient_url)})
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn()},
        "type": "document",
        "timestamp": timestamp,
        "entry": entries,
    }


def summary_pdf(*, patient: dict, sections: list[SharedSection], label: str, made_at: datetime) -> bytes:
    """The same summary as the Bundle, printed: one table per section."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=LETTER, leftMargin=0.7 * inch, rightMargin=0.7 * inch, title="Patient summary", author="Homeport"
    )
    who = _patient_words(patient)
    if patient.get("birthDate"):
        who = f"{who}, born {patient['birthDate']}"
    story = [
        Paragraph("Patient summary", styles["Title"]),
        Paragraph(xml_escape(f"{who}. Shared as '{label}' on {made_at:%B %-d, %Y}."), styles["Normal"]),
        Paragraph("Made by Homeport from the records the person's providers shared.", styles["Normal"]),
    ]
    for section in sections:
        story.append(Spacer(1, 10))
        story.append(Paragraph(xml_escape(section.spec.title), styles["Heading2"]))
        if not section.resources:
            story.append(Paragraph("None on record.", styles["Normal"]))
            continue
        rows: list[list[Any]] = [["Item", "Date", "Details"]]
        for resource in section.resources:
            item_name, date, detail = _item_line(resource)
            rows.append(
                [
                    Paragraph(xml_escape(item_name[:160]), styles["BodyText"]),
                    xml_escape(date or "Date not given"),
                    Paragraph(xml_escape(detail[:240]), styles["BodyText"]),
                ]
            )
        table = Table(rows, colWidths=[3.0 * inch, 1.3 * inch, 2.7 * inch], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3f1f1")),
                    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("FONTSIZE", (0, 0), (-1, -1), 9),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d8e0e3")),
                ]
            )
        )
        story.append(table)
    doc.build(story)
    return out.getvalue()


def pdf_document_reference(*, pdf: bytes, bundle: dict, label: str, made_at: datetime) -> dict:
    """The PDF as a DocumentReference (inline data), about the same patient as the Bundle."""
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"].get("resourceType") == "Patient")
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
        "subject": {"display": _patient_words(patient)},
        "date": made_at.isoformat(timespec="seconds"),
        "description": f"Patient summary (PDF): {label}",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "title": "patient-summary.pdf",
                    "creation": made_at.isoformat(timespec="seconds"),
                    "data": base64.b64encode(pdf).decode("ascii"),
                }
            }
        ],
    }


def _patient_words(patient: dict) -> str:
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    first = names[0] if names and isinstance(names[0], dict) else {}
    if first.get("text"):
        return str(first["text"])
    given = " ".join(str(g) for g in first.get("given", []) if isinstance(g, str))
    return " ".join(part for part in (given, str(first.get("family") or "")) if part) or "The patient"


# ---------------------------------------------------------------- services


def share_create(
    *,
    user: User,
    label: str,
    scope: str,
    categories: list[str],
    lifetime: timedelta,
    passcode: str = "",
) -> ShareCreated:
    """Make a share: freeze and encrypt the summary now, keep only the ciphertext, return the link once."""
    label = clean_text(label, limit=LABEL_MAX)
    if not label:
        raise ShareError(gettext("Give the share a short name, for example the clinic you are visiting."))
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise ShareError(gettext("Choose how long the share works: between one hour and 90 days."))
    if scope not in dict(Share.SCOPE_CHOICES):
        raise ShareError(gettext("Choose what to share."))
    chosen = [slug for slug in categories if slug in SECTIONS_BY_SLUG] if scope == Share.SCOPE_CATEGORIES else []
    if scope == Share.SCOPE_CATEGORIES and not chosen:
        raise ShareError(gettext("Choose at least one part of your record to share."))
    if passcode and not 4 <= len(passcode) <= 64:
        raise ShareError(gettext("A passcode needs between 4 and 64 characters."))

    made_at = timezone.now()
    sections = share_sections_for(user=user, scope=scope, categories=chosen)
    references: set[str] = set()
    for section in sections:
        for resource in section.resources:
            _collect_references(resource.raw, references)
    extra = share_referenced_resources(user=user, references=references)
    bundle = ips_bundle(
        user=user, sections=sections, extra=extra, patient_raw=patient_resource_for(user=user), made_at=made_at
    )
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"].get("resourceType") == "Patient")
    pdf = summary_pdf(patient=patient, sections=sections, label=label, made_at=made_at)
    document = pdf_document_reference(pdf=pdf, bundle=bundle, label=label, made_at=made_at)

    key = secrets.token_bytes(32)
    files = [
        (ShareFile.KIND_BUNDLE, json.dumps(bundle, separators=(",", ":")).encode()),
        (ShareFile.KIND_PDF, json.dumps(document, separators=(",", ":")).encode()),
    ]
    with transaction.atomic():
        share = Share.objects.create(
            user=user,
            manifest_id=secrets.token_urlsafe(32),
            label=label,
            scope=scope,
            categories=chosen,
            flag=share_flag(has_passcode=bool(passcode), lifetime=lifetime),
            passcode_hash=make_password(passcode) if passcode else "",
            created_at=made_at,
            expires_at=made_at + lifetime,
        )
        ShareFile.objects.bulk_create(
            ShareFile(
                share=share,
                position=position,
                kind=kind,
                content_type="application/fhir+json",
                jwe=jwe_encrypt(key=key, plaintext=plaintext, content_type="application/fhir+json"),
                created_at=made_at,
            )
            for position, (kind, plaintext) in enumerate(files)
        )
    shlink = shlink_encode(shlink_payload(share=share, key=key))
    log.info("share created (share=%s, files=%s)", share.pk, len(files))
    return ShareCreated(share=share, shlink=shlink, viewer_url=f"{viewer_base_url()}#{shlink}")


def _files_delete(share: Share) -> None:
    ShareFile.objects.filter(share=share).delete()
    if share.files_deleted_at is None:
        share.files_deleted_at = timezone.now()
        Share.objects.filter(pk=share.pk).update(files_deleted_at=share.files_deleted_at)


@transaction.atomic
def share_revoke(*, user: User, share_id: int) -> Share:
    """Stop a share at once and delete its files. Another person's share is not found."""
    share = Share.objects.select_for_update().get(pk=share_id, user=user)
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        Share.objects.filter(pk=share.pk).update(revoked_at=share.revoked_at)
    _files_delete(share)
    log.info("share revoked (share=%s)", share.pk)
    return share


@transaction.atomic
def share_revoke_all(*, user_id: int) -> int:
    """Revoke every share of a person (account deletion); returns how many were still working."""
    now = timezone.now()
    working = Share.objects.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=now)
    ShareFile.objects.filter(share__user_id=user_id).delete()
    Share.objects.filter(user_id=user_id, files_deleted_at__isnull=True).update(files_deleted_at=now)
    return working


def shares_purge_expired(*, limit: int = 500) -> int:
    """Delete the files of shares that no longer work (expired, revoked, locked); returns how many."""
    now = timezone.now()
    ids = list(
        Share.objects.filter(files_deleted_at__isnull=True)
        .filter(Q(expires_at__lte=now) | Q(revoked_at__isnull=False) | Q(locked_at__isnull=False))
        .values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        ShareFile.objects.filter(share_id__in=ids).delete()
        Share.objects.filter(pk__in=ids).update(files_deleted_at=now)
    return len(ids)


def _not_active() -> ManifestAnswer:
    return ManifestAnswer(404, {"error": "This link is no longer available."})


def file_location_token(*, share: Share, file: ShareFile) -> str:
    return signing.dumps({"s": share.pk, "f": file.pk}, salt=_FILE_SALT)


def share_manifest_open(
    *,
    manifest_id: str,
    recipient: str,
    passcode: str | None,
    embedded_length_max: int | None,
    ip: str | None,
    user_agent: str,
) -> ManifestAnswer:
    """Answer a manifest request as the specification says, and record the opening.

    Passcode attempts are counted under a row lock, so parallel guesses cannot exceed the lifetime limit.
    """
    recipient = clean_text(recipient, limit=RECIPIENT_MAX)
    with transaction.atomic():
        share = Share.objects.select_for_update().filter(manifest_id=manifest_id).first()
        if share is None:
            return _not_active()
        if not share.is_active:
            _files_delete(share)
            return _not_active()
        if not recipient:
            return ManifestAnswer(400, {"error": "recipient is required: say who is opening this link."})
        if share.has_passcode and not check_password(passcode or "", share.passcode_hash):
            share.failed_passcode_attempts += 1
            remaining = max(0, MAX_PASSCODE_FAILURES - share.failed_passcode_attempts)
            fields: dict[str, Any] = {"failed_passcode_attempts": share.failed_passcode_attempts}
            if remaining == 0:
                share.locked_at = timezone.now()
                fields["locked_at"] = share.locked_at
            Share.objects.filter(pk=share.pk).update(**fields)
            if remaining == 0:
                _files_delete(share)
            return ManifestAnswer(401, {"remainingAttempts": remaining})
        now = timezone.now()
        Share.objects.filter(pk=share.pk).update(open_count=share.open_count + 1)
        ShareOpening.objects.create(share=share, at=now, recipient=recipient, ip=ip, user_agent=user_agent[:300])
        AccessLogEntry.objects.create(
            at=now,
            actor=None,
            subject_id=share.user_id,
            actor_kind=AccessLogEntry.ACTOR_SHARE,
            action="records:share-opened",
            target=f"share:{share.pk}",
            reason=f"Opened by {recipient} through the share '{share.label}'"[:300],
            ip=ip,
            user_agent=user_agent[:300],
        )
        files = []
        for file in share.files.all():
            entry: dict[str, Any] = {"contentType": file.content_type}
            if embedded_length_max is not None and len(file.jwe) > embedded_length_max:
                token = file_location_token(share=share, file=file)
                entry["location"] = settings.PORTAL_BASE_URL + reverse("share:file", args=[token])
            else:
                entry["embedded"] = file.jwe
            entry["lastUpdated"] = file.created_at.isoformat(timespec="seconds")
            entry["status"] = "finalized"
            entry["fhirVersion"] = FHIR_VERSION
            files.append(entry)
    log.info("share opened (share=%s)", share.pk)
    return ManifestAnswer(200, {"status": "finalized", "files": files})


def share_file_read(*, token: str) -> str | None:
    """The JWE a short-lived `location` URL names, while its share still works; else None."""
    try:
        data = signing.loads(token, salt=_FILE_SALT, max_age=LOCATION_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    file_id = data.get("f") if isinstance(data, dict) else None
    share_id = data.get("s") if isinstance(data, dict) else None
    if not isinstance(file_id, int) or not isinstance(share_id, int):
        return None
    file = ShareFile.objects.select_related("share").filter(pk=file_id, share_id=share_id).first()
    if file is None or not file.share.is_active:
        return None
    return file.jwe
