"""Receiving and processing network webhooks.

Receipt (in the web request) does only: check the signature over the raw bytes, read `meta`,
store the encrypted body once per messageId, enqueue after commit. Processing (in a worker)
claims the event with a short lease, runs its handler and marks it done; a worker that dies
leaves the lease to expire, and the redelivered task or the sweeper picks the event up again.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.utils import timezone

from accounts.crypto import encrypt_bytes
from ias.commits import unsynced_returning
from ias.handlers import handler_for
from ias.models import WebhookEvent
from ias.network import parse_when
from ias.particle_webhook import ParticleEvent
from ias.queueing import enqueue_after_commit
from ias.selectors import event_body

log = logging.getLogger(__name__)
T = TypeVar("T")

# How far ahead of our clock an event's `meta.when` may be. Beyond it the time is clamped to the
# moment of receipt: an event dated in the future would otherwise make every later bundle "older".
EVENT_CLOCK_SKEW = timedelta(minutes=5)


def event_time_clamp(*, sent_at: Any, received_at: Any) -> Any:
    """`meta.when`, or the receipt time when `meta.when` is beyond the allowed clock skew."""
    if sent_at is not None and sent_at > received_at + EVENT_CLOCK_SKEW:
        return received_at
    return sent_at


def max_body_bytes() -> int:
    return int(settings.IAS_WEBHOOK_MAX_BYTES)


def signature_valid(*, raw: bytes, header: str, key: str | None = None) -> bool:
    """Constant-time check of the lowercase hex HMAC-SHA256 of the exact raw body."""
    if not header:
        return False
    key = settings.METRIPORT_WEBHOOK_KEY if key is None else key
    expected = hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("ascii", "replace"))


def sign(*, raw: bytes, key: str | None = None) -> str:
    key = settings.METRIPORT_WEBHOOK_KEY if key is None else key
    return hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


class MalformedWebhook(ValueError):
    """The body is not an event we can store; the message says why (no body content in it)."""


@dataclass(frozen=True)
class Envelope:
    message_id: str
    event_type: str
    request_id: str
    patient_id: str
    sent_at: Any
    ping: str | None
    network: str = "metriport"


def particle_envelope(event: ParticleEvent) -> Envelope:
    """What is stored of a verified Particle notification: its CloudEvents id once per network,
    and for a query event the patient and `<patient>:<query>`, the request id its query row holds."""
    query_id = event.query.query_id if event.query is not None else ""
    patient_id = event.particle_patient_id
    return Envelope(
        network="particle",
        message_id=event.id,
        event_type=event.type,
        request_id=f"{patient_id}:{query_id}"[:100] if patient_id and query_id else "",
        patient_id=patient_id[:100],
        sent_at=event.sent_at,
        ping=None,
    )


def envelope_read(raw: bytes) -> Envelope:
    """Read just enough of the body to store it: meta and the patient id, nothing clinical."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedWebhook("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise MalformedWebhook("body is not a JSON object")
    meta = body.get("meta")
    if not isinstance(meta, dict):
        raise MalformedWebhook("missing meta")
    event_type = meta.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedWebhook("missing meta.type")
    ping = body.get("ping") if event_type == "ping" else None
    message_id = meta.get("messageId")
    if event_type == "ping" and not isinstance(ping, str):
        raise MalformedWebhook("ping without a ping value")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 200:
        if event_type == "ping":
            message_id = ""
        else:
            raise MalformedWebhook("missing meta.messageId")
    patient_id = ""
    payload = body.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get("patientId"), str):
        patient_id = payload["patientId"]
    elif isinstance(body.get("patients"), list) and body["patients"] and isinstance(body["patients"][0], dict):
        patient_id = str(body["patients"][0].get("patientId") or "")
    request_id = meta.get("requestId")
    return Envelope(
        message_id=message_id,
        event_type=event_type[:100],
        request_id=request_id[:100] if isinstance(request_id, str) else "",
        patient_id=patient_id[:100],
        sent_at=parse_when(meta.get("when")),
        ping=ping,
    )


@functools.cache
def event_insert_statement() -> tuple[str, tuple[Field, ...]]:
    """The one INSERT of a delivery and the fields it writes: every column the model has, so an
    added field (and its default) is written without touching this. Built once per process."""
    meta = WebhookEvent._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    names = {f.name: connection.ops.quote_name(str(f.column)) for f in meta.concrete_fields}
    columns = ", ".join(names[f.name] for f in fields)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns})"  # noqa: S608 - names are ours
        f" VALUES ({', '.join(['%s'] * len(fields))})"
        f" ON CONFLICT ({names['network']}, {names['message_id']}) DO NOTHING RETURNING {names['id']}"
    )
    return sql, fields


def event_insert_once(event: WebhookEvent) -> int | None:
    """The new row's id, or None when (network, message id) is already stored. One statement on
    the webhook's hot path: a duplicate raises no error (no savepoint, no rolled-back statement),
    and outside a transaction the row commits on its own, so the enqueue that follows (on_commit
    outside a transaction runs at once) sees it.

    Outside a transaction the connection is not tested first (the health check's `SELECT 1`, a
    round trip on every delivery): when it has gone away, the INSERT is sent again once on a new
    one, since the network does not retry a delivery that failed. A second send is harmless (ON
    CONFLICT); when the first one had committed, the answer is "duplicate" and the sweeper enqueues
    the pending event."""
    sql, fields = event_insert_statement()
    # The connection itself rather than `django.db.connection`, a proxy that looks it up in a
    # context-local store (raising and catching an error outside an event loop) on every access.
    db = connections[DEFAULT_DB_ALIAS]
    params = [f.get_db_prep_save(getattr(event, f.attname), db) for f in fields]
    return untested_first(db, lambda: statement_returning_id(db, sql, params), doing="storing an event")


def untested_first(db: BaseDatabaseWrapper, send: Callable[[], T], *, doing: str) -> T:
    """Send a statement without the health check's `SELECT 1` first; when the connection has gone
    away, once more on a new one. Only outside a transaction (where nothing else is lost with the
    connection) and only where Django would have checked (CONN_HEALTH_CHECKS)."""
    resend = bool(db.settings_dict.get("CONN_HEALTH_CHECKS")) and not db.in_atomic_block
    if resend:
        db.health_check_done = True  # type: ignore[attr-defined]  # Django has it; its stubs do not
    try:
        return send()
    except (OperationalError, InterfaceError) as exc:
        if not resend:
            raise
        log.warning("database connection lost %s (%s); sending it again", doing, type(exc).__name__)
        db.close()
        return send()


def statement_returning_id(db: BaseDatabaseWrapper, sql: str, params: list[Any]) -> int | None:
    """Run the INSERT; on PostgreSQL with its values sent apart from the statement, prepared.

    Django's PostgreSQL cursors bind on the client: every value is quoted into the SQL text in
    Python, and the server parses and plans the whole statement again for every delivery. The
    statement is the same on every delivery, so here a cursor that binds on the server sends it,
    and psycopg prepares it once per connection (after `prepare_threshold` runs, see settings).
    The cursor is still Django's wrapper (its error translation, execute wrappers, query log)."""
    if db.vendor == "postgresql" and db.settings_dict["OPTIONS"].get("prepare_threshold") is not None:
        import psycopg

        db.close_if_health_check_failed()
        db.ensure_connection()
        with db.wrap_database_errors:
            raw: Any = psycopg.Cursor(db.connection)  # django-stubs type the argument as the wrapper itself
        wrapped = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)
    else:
        wrapped = db.cursor()
    with wrapped as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def event_store(*, raw: bytes, envelope: Envelope) -> tuple[WebhookEvent | None, bool]:
    """Store one delivery once. Returns (event, created); a duplicate messageId is (None, False)."""
    received_at = timezone.now()
    sent_at = event_time_clamp(sent_at=envelope.sent_at, received_at=received_at)
    if sent_at != envelope.sent_at:
        log.warning("event %s is dated beyond the clock skew; its time is clamped to receipt", envelope.message_id)
    event = WebhookEvent(
        network=envelope.network,
        message_id=envelope.message_id,
        event_type=envelope.event_type,
        request_id=envelope.request_id,
        network_patient_id=envelope.patient_id,
        sent_at=sent_at,
        received_at=received_at,
        body_encrypted=encrypt_bytes(raw),
        body_size=len(raw),
        status=WebhookEvent.Status.IGNORED if envelope.event_type == "ping" else WebhookEvent.Status.PENDING,
    )
    event.pk = event_insert_once(event)
    if event.pk is None:
        return None, False
    if event.status == WebhookEvent.Status.PENDING:
        from ias.tasks import event_process

        enqueue_after_commit(event_process, event_id=event.pk)
    return event, True


class EventBusy(Exception):
    """Another worker holds this event's lease; try again when it runs out."""

    def __init__(self, retry_in: float):
        super().__init__(f"leased for {retry_in:.1f}s more")
        self.retry_in = retry_in


def lease_seconds() -> float:
    return float(settings.IAS_EVENT_LEASE_SECONDS)


def max_attempts() -> int:
    return int(settings.IAS_EVENT_MAX_ATTEMPTS)


@functools.cache
def event_claim_statement() -> tuple[str, str]:
    """The claim's one UPDATE and the columns it returns: every column of the row it claimed.
    Built once per process."""
    meta = WebhookEvent._meta
    q = connection.ops.quote_name
    columns = ", ".join(q(str(f.column)) for f in meta.concrete_fields)
    return (
        f"UPDATE {q(meta.db_table)} SET {q('claimed_until')} = %s, {q('attempts')} = {q('attempts')} + 1"  # noqa: S608 - names are ours
        f" WHERE {q('id')} = %s AND {q('status')} = %s AND ({q('claimed_until')} IS NULL OR {q('claimed_until')} <= %s)"
    ), columns


def event_claim(*, event_id: int) -> WebhookEvent | None:
    """Take the event's lease if it is pending and free; None when there is nothing to do.

    The lease is taken by one conditional UPDATE that returns the claimed row (no row lock held past
    its commit, which on PostgreSQL does not wait for the disk: see `ias.commits`): two workers cannot
    both match a free lease, and only the loser reads the row again to learn why it lost.

    It is a task's first statement, so outside a transaction the connection is not tested first
    (the health check's `SELECT 1`): when it has gone away the UPDATE is sent once more on a new
    one. Had the first one committed, the second finds the lease taken, and the event is retried
    when it runs out, as after a worker that died."""
    now = timezone.now()
    db = connections[DEFAULT_DB_ALIAS]
    field = WebhookEvent._meta.get_field("claimed_until")
    params = [
        field.get_db_prep_save(now + timedelta(seconds=lease_seconds()), db),
        event_id,
        WebhookEvent.Status.PENDING,
        field.get_db_prep_save(now, db),
    ]
    claimed = untested_first(db, lambda: claimed_rows(params), doing="claiming an event")
    if claimed:
        return claimed[0]
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None or event.status != WebhookEvent.Status.PENDING:
        return None
    busy_for = (event.claimed_until - now).total_seconds() if event.claimed_until else 0.0
    raise EventBusy(max(0.0, busy_for))


def claimed_rows(params: list[Any]) -> list[WebhookEvent]:
    # A lease lost in a crash only lets the event be claimed again: its commit need not wait for the disk.
    sql, columns = event_claim_statement()
    return list(WebhookEvent.objects.raw(unsynced_returning(sql, columns), params))


def event_finish(*, event_id: int, status: str, outcome: str) -> None:
    """One UPDATE: it only settles an event that is still pending.

    Its commit does not wait for the disk (`ias.commits`): the worker's commits share the disk's
    flushes with every webhook's acknowledgement, and a settling lost in a crash leaves the event
    pending under a lease that runs out, to be processed again like one whose worker died."""
    meta = WebhookEvent._meta
    db = connections[DEFAULT_DB_ALIAS]
    q = connection.ops.quote_name
    sql = (
        f"UPDATE {q(meta.db_table)} SET {q('status')} = %s, {q('outcome')} = %s, {q('last_error')} = '',"  # noqa: S608 - names are ours
        f" {q('claimed_until')} = NULL, {q('processed_at')} = %s WHERE {q('id')} = %s AND {q('status')} = %s"
    )
    processed_at = meta.get_field("processed_at").get_db_prep_save(timezone.now(), db)
    params = [status, outcome[:300], processed_at, event_id, WebhookEvent.Status.PENDING]
    with db.cursor() as cursor:
        cursor.execute(unsynced_returning(sql), params)


def event_release(*, event_id: int, error: BaseException) -> bool:
    """Record a failed attempt and free the lease. Returns True when the event has now given up."""
    message = f"{type(error).__name__}: {error}"[:500]
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.status != WebhookEvent.Status.PENDING:
            return True
        event.last_error = message
        event.claimed_until = None
        gave_up = event.attempts >= max_attempts()
        if gave_up:
            event.status = WebhookEvent.Status.FAILED
            event.processed_at = timezone.now()
        event.save(update_fields=["last_error", "claimed_until", "status", "processed_at"])
    return gave_up


def event_process(*, event_id: int) -> str:
    """Run one event's handler under its lease. Raises on failure (after recording it)."""
    event = event_claim(event_id=event_id)
    if event is None:
        return "nothing to do"
    try:
        status, outcome = handler_for(event.event_type)(event, event_body(event))
    except Exception as exc:
        event_release(event_id=event_id, error=exc)
        raise
    event_finish(event_id=event_id, status=status, outcome=outcome)
    return outcome
