"""The webhook parser and endpoint on arbitrary bytes and arbitrary JSON: a defined answer every time."""

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import json_values

webhooks = pytest.importorskip("ias.webhooks")

settings.load_profile("homeport-fuzz")

metas = st.fixed_dictionaries(
    {},
    optional={
        "messageId": st.text(max_size=220) | json_values,
        "type": st.sampled_from(
            ["network-query.hie", "ias.identity.verified", "medical.consolidated-data", "ping", "", "unknown.type"]
        )
        | json_values,
        "requestId": st.text(max_size=120) | json_values,
        "when": st.sampled_from(["2026-11-01T10:00:00Z", "yesterday", "", "9999-99-99"]) | json_values,
        "data": json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {}, optional={"meta": metas | json_values, "payload": json_values, "patients": json_values, "ping": json_values}
)
# The stdlib encoder writes what a hostile sender might: huge integers, NaN and Infinity.
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | envelopes.map(lambda e: json.dumps(e).encode())
)


@given(raw=bodies)
def test_envelope_read_answers_or_refuses_cleanly(raw):
    try:
        envelope = webhooks.envelope_read(raw)
    except webhooks.MalformedWebhook:
        return
    assert isinstance(envelope.event_type, str) and envelope.event_type
    assert isinstance(envelope.message_id, str)
    assert len(envelope.message_id) <= 200 and len(envelope.event_type) <= 100
    assert isinstance(envelope.request_id, str) and isinstance(envelope.patient_id, str)


@given(raw=st.binary(max_size=200), header=st.text(max_size=80))
def test_signature_check_never_raises(raw, header):
    assert webhooks.signature_valid(raw=raw, header=header) in (True, False)


@pytest.mark.django_db
@given(raw=bodies, signed=st.booleans())
def test_endpoint_answers_every_body(raw, signed, monkeypatch):
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda task, *args, **kwargs: None)
    headers: dict[str, Any] = {}
    if signed:
        key = django_settings.METRIPORT_WEBHOOK_KEY.encode()
        headers["HTTP_X_METRIPORT_SIGNATURE"] = hmac.new(key, raw, hashlib.sha256).hexdigest()
    response = Client().post("/webhooks/metriport/", data=raw, content_type="application/json", **headers)
    expected = (200, 400, 413) if signed else (401,)
    assert response.status_code in expected
    assert response["Content-Type"] == "application/json"
