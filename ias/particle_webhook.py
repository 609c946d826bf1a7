"""Reading what Particle posts to `/webhooks/particle/`: a signed CloudEvents 1.0 envelope.

Particle signs each notification in `X-Ph-Signature-256: t=<unix seconds>,<hex HMAC-SHA256>`,
the HMAC taken with the notification's signature key over `<t>.<raw body>`. The check runs in
constant time over the exact bytes received, and a timestamp further than the allowed skew from
our clock (either way) is refused, so a captured delivery cannot be replayed later. During a key
rotation Particle signs with the keys in force; `PARTICLE_WEBHOOK_SECRET` may list several,
comma-separated, and any of them may match.

Every refusal is a `WebhookRefused` with the HTTP status to answer and a reason that names what
was wrong, never what the body holds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from django.conf import settings

from ias.particle import STATE_PHASES

SIGNATURE_HEADER = "X-Ph-Signature-256"
QUERY_TYPES = ("com.particlehealth.api.v2.query", "com.particlehealth.api.v1.query")
TYPE_PREFIX = "com.particlehealth."
CONTENT_TYPES = ("application/cloudevents+json", "application/json")
HEX_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")


class WebhookRefused(Exception):
    """The delivery is not accepted; `status` is the answer (400, 401 or 415), `reason` says why."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class QueryEventData(msgspec.Struct):
    """The `data` of a query notification, in both the v1 and the v2 shape.

    v1 names the patient `patient_id` (with a legacy `person_id`); v2 adds `particle_patient_id`
    (which may be empty) and `external_patient_id`. `file_count` comes as a string.
    """

    query_id: str = ""
    particle_patient_id: str = ""
    patient_id: str = ""
    person_id: str = ""
    external_patient_id: str = ""
    file_count: int = 0
    status: str = ""
    state: str = ""
    purpose: str = ""


class CloudEvent(msgspec.Struct):
    specversion: str
    id: str
    type: str
    source: str
    time: str = ""
    subject: str = ""
    datacontenttype: str = "application/json"
    data: msgspec.Raw = msgspec.Raw(b"null")


class ParticleEvent(msgspec.Struct, frozen=True):
    """A verified notification: the envelope's fields, and the query data when it is a query event."""

    id: str
    type: str
    source: str
    subject: str
    sent_at: datetime | None
    query: QueryEventData | None

    @property
    def is_query(self) -> bool:
        return self.query is not None

    @property
    def particle_patient_id(self) -> str:
        """Particle's id for the person: `particle_patient_id`, else v1's `patient_id`."""
        if self.query is None:
            return ""
        return self.query.particle_patient_id or self.query.patient_id

    @property
    def phase(self) -> str:
        """pending, running, complete, partial or failed; "complete with errors" counts as partial."""
        if self.query is None:
            return ""
        phase = STATE_PHASES.get((self.query.status or self.query.state).strip().upper(), "")
        if phase == "complete" and "with errors" in self.subject.lower():
            return "partial"
        return phase or "complete"


def signature_header(*, raw: bytes, secret: str, timestamp: int) -> str:
    """The header Particle would send for `raw` (the sandbox and tests sign with it)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},{digest}"


def content_type_check(content_type: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise WebhookRefused(415, "content type must be application/cloudevents+json")


def signature_check(*, raw: bytes, header: str, secrets: Sequence[str], now: float, skew: float) -> None:
    """Constant-time HMAC check of `<t>.<raw body>` with a bounded clock skew; raises `WebhookRefused`."""
    if not header.strip():
        raise WebhookRefused(401, f"missing {SIGNATURE_HEADER} header")
    parts = [part.strip() for part in header.split(",")]
    stamp = parts[0]
    if not stamp.startswith("t=") or not stamp[2:].isdigit() or len(stamp) > 14:
        raise WebhookRefused(401, f"{SIGNATURE_HEADER} must start with t=<unix seconds>")
    signatures = [part for part in parts[1:] if part]
    if not signatures:
        raise WebhookRefused(401, f"{SIGNATURE_HEADER} carries no signature")
    if not all(HEX_SIGNATURE.match(sig) for sig in signatures):
        raise WebhookRefused(401, f"{SIGNATURE_HEADER} signature is not 64 hex digits")
    timestamp = int(stamp[2:])
    if abs(now - timestamp) > skew:
        raise WebhookRefused(401, "signature timestamp is outside the allowed clock skew")
    keys = [key for key in secrets if key]
    if not keys:
        raise WebhookRefused(401, "no webhook secret is configured")
    signed = f"{timestamp}.".encode() + raw
    matched = False
    for key in keys:
        expected = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest().encode()
        for sig in signatures:
            matched |= hmac.compare_digest(expected, sig.lower().encode())
    if not matched:
        raise WebhookRefused(401, "invalid signature")


def time_read(value: str) -> datetime | None:
    """An RFC 3339 instant (Particle sends up to nanoseconds); None when absent or unreadable."""
    text = value.strip()
    if not text:
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        return None
    fraction = (match.group(2) or "")[:7]
    zone = match.group(3) or "Z"
    try:
        when = datetime.fromisoformat(match.group(1) + fraction + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return when.astimezone(UTC)


def event_read(raw: bytes) -> ParticleEvent:
    """Decode the CloudEvents envelope once; raises `WebhookRefused(400, ...)` for each bad case."""
    try:
        envelope = msgspec.json.decode(raw, type=CloudEvent)
    except msgspec.ValidationError as exc:
        raise WebhookRefused(400, f"not a CloudEvent: {exc}") from None
    except msgspec.DecodeError:
        raise WebhookRefused(400, "body is not a JSON object") from None
    if envelope.specversion != "1.0":
        raise WebhookRefused(400, "specversion must be 1.0")
    if not envelope.id or len(envelope.id) > 200:
        raise WebhookRefused(400, "id must be 1 to 200 characters")
    if not envelope.type.startswith(TYPE_PREFIX) or len(envelope.type) > 100:
        raise WebhookRefused(400, "type is not a Particle notification type")
    if not envelope.source:
        raise WebhookRefused(400, "source is missing")
    if envelope.time and time_read(envelope.time) is None:
        raise WebhookRefused(400, "time is not an RFC 3339 timestamp")
    query = None
    if envelope.type in QUERY_TYPES:
        try:
            query = msgspec.json.decode(envelope.data, type=QueryEventData, strict=False)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise WebhookRefused(400, f"data is not a query notification: {exc}") from None
        if not query.query_id and not (query.particle_patient_id or query.patient_id):
            raise WebhookRefused(400, "data names neither a query nor a patient")
    return ParticleEvent(
        id=envelope.id,
        type=envelope.type,
        source=envelope.source[:200],
        subject=envelope.subject[:200],
        sent_at=time_read(envelope.time),
        query=query,
    )


def receive(*, raw: bytes, content_type: str, signature: str, now: float | None = None) -> ParticleEvent:
    """Everything the webhook view checks before storing: media type, signature, then the envelope."""
    content_type_check(content_type)
    signature_check(
        raw=raw,
        header=signature,
        secrets=[key.strip() for key in settings.PARTICLE_WEBHOOK_SECRET.split(",")],
        now=time.time() if now is None else now,
        skew=float(settings.PARTICLE_WEBHOOK_SKEW_SECONDS),
    )
    return event_read(raw)
