"""Reading Particle's notifications: every signature case and every body case."""

import hashlib
import hmac
import json

import pytest

from ias.particle_webhook import WebhookRefused, event_read, receive, signature_header
from tests.sandbox.particle_examples import EVENT_TRANSITION, EVENT_V1, EVENT_V2

SECRET = "particle-test-secret"
NOW = 1_780_000_000
CT = "application/cloudevents+json"


@pytest.fixture(autouse=True)
def particle_settings(settings):
    settings.PARTICLE_WEBHOOK_SECRET = SECRET
    settings.PARTICLE_WEBHOOK_SKEW_SECONDS = 300
    return settings


def raw_of(body) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def signed(raw: bytes, *, secret: str = SECRET, at: int = NOW) -> str:
    return signature_header(raw=raw, secret=secret, timestamp=at)


def refused(raw: bytes, *, signature: str | None = None, content_type: str = CT) -> WebhookRefused:
    with pytest.raises(WebhookRefused) as caught:
        receive(raw=raw, content_type=content_type, signature=signed(raw) if signature is None else signature, now=NOW)
    return caught.value


def test_the_signature_is_hmac_sha256_of_timestamp_dot_raw_body():
    raw = raw_of(EVENT_V2)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + raw, hashlib.sha256).hexdigest()
    assert signed(raw) == f"t={NOW},{expected}"


@pytest.mark.parametrize("example", [EVENT_V1, EVENT_V2], ids=["v1", "v2"])
def test_both_documented_query_events_are_accepted(example):
    raw = raw_of(example)
    event = receive(raw=raw, content_type=CT, signature=signed(raw), now=NOW)
    assert event.id == example["id"] and event.type == example["type"] and event.query is not None
    assert event.query.query_id == example["data"]["query_id"]
    assert event.query.file_count == int(example["data"]["file_count"])
    assert event.phase == "complete"
    assert event.particle_patient_id == example["data"]["patient_id"]
    assert event.sent_at is not None and event.sent_at.tzinfo is not None


def test_v1_nanosecond_time_is_read():
    event = event_read(raw_of(EVENT_V1))
    assert event.sent_at is not None
    assert event.sent_at.isoformat() == "2023-05-15T12:00:14.694292+00:00"


def test_v2_prefers_particle_patient_id_when_given():
    body = json.loads(json.dumps(EVENT_V2))
    body["data"]["particle_patient_id"] = "ppid-1"
    assert event_read(raw_of(body)).particle_patient_id == "ppid-1"


def test_complete_with_errors_is_partial_and_failed_is_failed():
    body = json.loads(json.dumps(EVENT_V2))
    body["subject"] = "FHIR_R4 Query Complete with Errors. CCDA documents available"
    assert event_read(raw_of(body)).phase == "partial"
    body["data"]["status"] = "FAILED"
    body["subject"] = "FHIR_R4 Query Failed"
    assert event_read(raw_of(body)).phase == "failed"


def test_other_particle_types_are_read_but_not_query_events():
    event = event_read(raw_of(EVENT_TRANSITION))
    assert not event.is_query and event.particle_patient_id == "" and event.phase == ""


def test_the_content_type_may_carry_parameters_and_plain_json_is_accepted():
    raw = raw_of(EVENT_V2)
    for content_type in ("application/cloudevents+json; charset=utf-8", "application/json"):
        assert receive(raw=raw, content_type=content_type, signature=signed(raw), now=NOW).id == EVENT_V2["id"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_wrong_content_type_is_415(content_type):
    assert refused(raw_of(EVENT_V2), content_type=content_type).status == 415


def test_a_missing_header_is_401():
    problem = refused(raw_of(EVENT_V2), signature="")
    assert (problem.status, problem.reason) == (401, "missing X-Ph-Signature-256 header")


@pytest.mark.parametrize(
    "header",
    [
        "abc",
        f"{'a' * 64}",
        f"t=,{'a' * 64}",
        f"t=12x,{'a' * 64}",
        f"t={NOW}",
        f"t={NOW},",
        f"t={NOW},{'g' * 64}",
        f"t={NOW},{'a' * 63}",
        f"t={NOW},v1={'a' * 64}",
    ],
    ids=[
        "garbage",
        "no-timestamp",
        "empty-t",
        "t-not-digits",
        "no-signature",
        "empty-signature",
        "bad-hex",
        "short-hex",
        "prefixed",
    ],
)
def test_malformed_headers_are_401(header):
    assert refused(raw_of(EVENT_V2), signature=header).status == 401


def test_a_wrong_secret_is_401():
    raw = raw_of(EVENT_V2)
    problem = refused(raw, signature=signed(raw, secret="someone-else"))
    assert (problem.status, problem.reason) == (401, "invalid signature")


def test_a_changed_body_is_401():
    raw = raw_of(EVENT_V2)
    header = signed(raw)
    assert refused(raw.replace(b"COMPLETE", b"FAILED!!"), signature=header).reason == "invalid signature"


def test_uppercase_hex_is_accepted():
    raw = raw_of(EVENT_V2)
    stamp, digest = signed(raw).split(",")
    assert receive(raw=raw, content_type=CT, signature=f"{stamp},{digest.upper()}", now=NOW).id


@pytest.mark.parametrize("offset", [-301, 301, -100_000, 100_000], ids=["stale", "future", "old", "far-future"])
def test_timestamps_outside_the_skew_are_401(offset):
    raw = raw_of(EVENT_V2)
    problem = refused(raw, signature=signed(raw, at=NOW + offset))
    assert problem.reason == "signature timestamp is outside the allowed clock skew"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_inside_the_skew_are_accepted(offset):
    raw = raw_of(EVENT_V2)
    assert receive(raw=raw, content_type=CT, signature=signed(raw, at=NOW + offset), now=NOW).id


def test_a_rotated_key_list_accepts_either_key(settings):
    settings.PARTICLE_WEBHOOK_SECRET = f"new-secret, {SECRET}"
    raw = raw_of(EVENT_V2)
    assert receive(raw=raw, content_type=CT, signature=signed(raw), now=NOW).id
    assert receive(raw=raw, content_type=CT, signature=signed(raw, secret="new-secret"), now=NOW).id


def test_no_configured_secret_refuses_everything(settings):
    settings.PARTICLE_WEBHOOK_SECRET = ""
    raw = raw_of(EVENT_V2)
    assert refused(raw, signature=signed(raw, secret="")).reason == "no webhook secret is configured"


def body_refused(raw: bytes) -> WebhookRefused:
    problem = refused(raw)
    assert problem.status == 400
    return problem


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe"], ids=["empty", "truncated", "text", "binary"])
def test_malformed_json_is_400(raw):
    assert body_refused(raw).reason == "body is not a JSON object"


def test_a_json_array_is_400():
    assert body_refused(b"[]").reason.startswith("not a CloudEvent")


def without(field: str) -> dict:
    body = json.loads(json.dumps(EVENT_V2))
    del body[field]
    return body


@pytest.mark.parametrize("field", ["specversion", "id", "type", "source"])
def test_each_required_cloudevents_attribute_is_required(field):
    reason = body_refused(raw_of(without(field))).reason
    assert reason.startswith("not a CloudEvent") and field in reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"specversion": "0.3"}, "specversion must be 1.0"),
        ({"id": ""}, "id must be 1 to 200 characters"),
        ({"id": "x" * 201}, "id must be 1 to 200 characters"),
        ({"type": "com.example.query"}, "type is not a Particle notification type"),
        ({"source": ""}, "source is missing"),
        ({"time": "yesterday"}, "time is not an RFC 3339 timestamp"),
    ],
)
def test_bad_envelope_values_are_400(change, reason):
    body = {**json.loads(json.dumps(EVENT_V2)), **change}
    assert body_refused(raw_of(body)).reason == reason


def test_a_query_event_needs_query_data():
    body = without("data")
    assert body_refused(raw_of(body)).reason.startswith("data is not a query notification")
    body["data"] = {"query_id": 5}
    assert body_refused(raw_of(body)).reason.startswith("data is not a query notification")
    body["data"] = {"status": "COMPLETE"}
    assert body_refused(raw_of(body)).reason == "data names neither a query nor a patient"


def test_reasons_never_echo_the_body():
    body = json.loads(json.dumps(EVENT_V2))
    body["data"]["query_id"] = ["Jane Doe 1968-04-12"]
    reason = body_refused(raw_of(body)).reason
    assert "Jane" not in reason and "1968" not in reason
