"""The network seam: Metriport's answers decoded once into ias.network's structs, and answers of the
wrong shape raised as the network's (transient) fault, never as KeyError or TypeError."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from ias import metriport
from ias.metriport_network import MetriportNetwork
from ias.network import (
    Address,
    IdentityStatus,
    Network,
    NetworkPermanentError,
    NetworkTransientError,
    PatientDetails,
    PatientRef,
    QueryRequest,
    network_for,
    networks_enabled,
)

DETAILS = PatientDetails(
    first_name="Ana",
    last_name="Lima",
    dob="1980-04-23",
    gender_at_birth="F",
    address=Address(line1="1 Main St", line2="Apt 2", city="Boston", state="MA", zip="02110"),
    phone="6175550123",
)


@pytest.fixture
def answers(settings):
    """Answer each request with the JSON queued for its method and path; record what was sent."""
    settings.METRIPORT_BASE_URL = "https://network.test"
    queued: dict[str, list[httpx.Response]] = {}
    sent: list[tuple[str, str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        sent.append((request.method, request.url.path, body))
        return queued[f"{request.method} {request.url.path}"].pop(0)

    def answer(route: str, status: int = 200, **kwargs) -> None:
        queued.setdefault(route, []).append(httpx.Response(status, **kwargs))

    answer.sent = sent  # type: ignore[attr-defined]
    metriport.use_transport(httpx.MockTransport(handler))
    yield answer
    metriport.use_transport(None)


def test_network_for_answers_the_metriport_implementation_of_the_protocol():
    network: Network = network_for("metriport")
    assert isinstance(network, MetriportNetwork)
    assert (network.key, network.offers_identity, network.purpose_of_use) == ("metriport", True, "ias")
    assert networks_enabled() == ["metriport"]


def test_a_network_not_enabled_is_refused(settings):
    with pytest.raises(LookupError):
        network_for("particle")
    settings.HOMEPORT_NETWORKS = ["particle"]
    with pytest.raises(LookupError):
        network_for("metriport")


def test_patient_register_sends_metriport_field_names_and_answers_a_reference(answers):
    answers("POST /medical/v1/patient", json={"id": "pat_1"})
    ref = MetriportNetwork().patient_register(facility_id="fac", details=DETAILS, external_id="homeport-7")
    assert ref == PatientRef(patient_id="pat_1", facility_id="fac")
    body = answers.sent[0][2]
    assert body["firstName"] == "Ana" and body["genderAtBirth"] == "F" and body["externalId"] == "homeport-7"
    assert body["address"] == [
        {
            "addressLine1": "1 Main St",
            "addressLine2": "Apt 2",
            "city": "Boston",
            "state": "MA",
            "zip": "02110",
            "country": "USA",
        }
    ]
    assert body["contact"] == [{"phone": "6175550123"}]


@pytest.mark.parametrize("answer", [{"id": "not an id!"}, {}, [], {"id": None}, "text"])
def test_patient_register_without_a_usable_id_is_transient(answers, answer):
    answers("POST /medical/v1/patient", json=answer)
    with pytest.raises(NetworkTransientError):
        MetriportNetwork().patient_register(facility_id="fac", details=DETAILS, external_id="x")


def test_identity_session_is_decoded_with_an_aware_expiry(answers):
    answers(
        "POST /medical/v1/identity/session",
        json={"sessionId": "ids_1", "sessionUrl": "https://id.test/s", "expiresAt": "2026-01-02T03:04:05Z"},
    )
    session = MetriportNetwork().identity_session_start(patient_id="pat_1", return_url="https://portal/back")
    assert session.session_id == "ids_1" and session.session_url == "https://id.test/s"
    assert session.expires_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "answer",
    [{"sessionId": "ids_1", "sessionUrl": "javascript:x"}, {"sessionUrl": "https://id.test/s"}, {"sessionId": 5.5}],
)
def test_identity_session_of_the_wrong_shape_is_transient(answers, answer):
    answers("POST /medical/v1/identity/session", json=answer)
    with pytest.raises(NetworkTransientError):
        MetriportNetwork().identity_session_start(patient_id="pat_1", return_url="https://portal/back")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"status": "verified", "proofedIdentityId": "pid_1"},
            IdentityStatus(state="verified", proofed_identity_id="pid_1"),
        ),
        ({"status": "verified", "proofedIdentityId": "bad id"}, IdentityStatus(state="unknown")),
        ({"status": "expired"}, IdentityStatus(state="expired")),
        (
            {"result": "failed", "failureReason": " Name\x00 did\nnot match "},
            IdentityStatus(state="failed", reason="Name did not match"),
        ),
        ({"status": "pending"}, IdentityStatus(state="unknown")),
    ],
)
def test_identity_status_is_one_of_four_states(answers, answer, expected):
    answers("GET /medical/v1/identity/session/ids_1", json=answer)
    assert MetriportNetwork().identity_session_status(session_id="ids_1") == expected


def test_identity_status_refused_by_the_network_reads_as_unknown(answers):
    answers("GET /medical/v1/identity/session/ids_1", 404, json={"name": "NotFound"})
    assert MetriportNetwork().identity_session_status(session_id="ids_1").state == "unknown"


def test_aal2_challenge_of_the_wrong_shape_is_transient(answers):
    answers("POST /medical/v1/identity/aal2/challenge", json={"challengeId": "ch_1"})
    with pytest.raises(NetworkTransientError):
        MetriportNetwork().aal2_challenge_start(proofed_identity_id="pid_1", return_url="https://portal/back")


def test_query_start_sends_the_identity_and_decodes_sources_and_refusals(answers):
    answers(
        "POST /medical/v1/network/query",
        json={
            "requestId": "req_1",
            "startedAt": "2026-01-02T03:04:05Z",
            "sources": [
                {"type": "hie", "status": "processing", "startedAt": "2026-01-02T03:04:05Z"},
                {"type": "lab", "status": "something new"},
                "not an object",
            ],
            "errors": [
                {"source": "pharmacy", "httpStatus": 429, "message": "busy"},
                {"source": "x", "httpStatus": "5"},
            ],
        },
    )
    request = QueryRequest(
        patient_id="pat_1",
        sources=["hie", "pharmacy"],
        query_ref="q-1",
        proofed_identity_id="pid_1",
        aal2_session_id="aal_1",
        purpose_of_use="ias",
    )
    status = MetriportNetwork().query_start(request=request)
    assert status.request_id == "req_1"
    assert [(s.source_type, s.state) for s in status.sources] == [("hie", "processing")]
    assert [(r.source_type, r.http_status, r.message) for r in status.refusals] == [
        ("pharmacy", 429, "busy"),
        ("x", None, ""),
    ]
    body = answers.sent[0][2]
    assert body["sources"] == {"hie": {"enabled": True}, "pharmacy": {"enabled": True}, "lab": {"enabled": False}}
    assert body["proofedIdentityId"] == "pid_1" and body["metadata"] == {"homeportQueryId": "q-1"}


@pytest.mark.parametrize("answer", [[], {"sources": {"hie": 1}}, {"requestId": ["r"]}])
def test_query_status_of_the_wrong_shape_is_transient(answers, answer):
    answers("GET /medical/v1/network/query/req_1", json=answer)
    with pytest.raises(NetworkTransientError):
        MetriportNetwork().query_status(request_id="req_1")


def test_records_status_names_an_unexpected_state_unknown(answers):
    answers("GET /medical/v1/patient/pat_1/consolidated/query/req_1", json={"status": "queued"})
    answers("GET /medical/v1/patient/pat_1/consolidated/query/req_1", json={"status": "failed"})
    network = MetriportNetwork()
    assert network.records_status(patient_id="pat_1", request_id="req_1").state == "unknown"
    assert network.records_status(patient_id="pat_1", request_id="req_1").state == "failed"


def test_transport_errors_pass_through_the_seam_as_network_errors(answers):
    answers("DELETE /medical/v1/patient/pat_1", 400, json={"name": "Bad"})
    with pytest.raises(NetworkPermanentError):
        MetriportNetwork().patient_delete(patient=PatientRef(patient_id="pat_1", facility_id="fac"))
