"""Store an event as the endpoint would, and process it as the worker would."""

import orjson

from ias import webhooks
from ias.models import WebhookEvent


def store(body: dict) -> WebhookEvent:
    raw = orjson.dumps(body)
    event, created = webhooks.event_store(raw=raw, envelope=webhooks.envelope_read(raw))
    assert created
    assert event is not None
    return event


def deliver(body: dict) -> WebhookEvent:
    event = store(body)
    webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    return event
