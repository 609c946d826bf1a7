"""The Particle client against a faked transport: tokens, every error class, every query state."""

import base64
import json
from typing import Any

import httpx
import pytest

from ias.network import NetworkPermanentError, NetworkTransientError
from ias.particle import (
    STATUS_404_GRACE_SECONDS,
    ParticleClient,
    ParticlePatient,
    TokenCache,
    off_reason,
    patient_from_demographics,
)

BASE = "https://particle.test"
DEMOGRAPHICS: dict[str, Any] = {
    "firstName": "Jane",
    "lastName": "Doe",
    "dob": "1968-04-12",
    "genderAtBirth": "F",
    "address": [{"addressLine1": "12 Main St", "city": "Springfield", "state": "IL", "zip": "62704"}],
    "contact": [{"phone": "(217) 555-0123", "email": "jane@example.com"}],
}


def jwt(exp: float, iat: float = 0) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part({'exp': exp, 'iat': iat})}.c2ln"


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Network:
    """A fake Particle: `/auth` hands out JWTs; `routes` answer everything else."""

    def __init__(self, clock: Clock, lifetime: float = 3600):
        self.clock = clock
        self.lifetime = lifetime
        self.auth_calls: list[httpx.Request] = []
        self.calls: list[httpx.Request] = []
        self.issued: list[str] = []
        self.refuse: set[str] = set()
        self.routes: list = []
        self.auth_answer = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth":
            self.auth_calls.append(request)
            if self.auth_answer is not None:
                return self.auth_answer(request)
            token = jwt(self.clock() + self.lifetime, self.clock()) + str(len(self.issued))
            token = token[: token.rindex(".")] + f".sig{len(self.issued)}"
            self.issued.append(token)
            return httpx.Response(200, text=token, headers={"content-type": "text/plain"})
        self.calls.append(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.refuse:
            return httpx.Response(401, json={"error": "unauthorized", "message": "token expired"})
        answer = self.routes.pop(0) if self.routes else httpx.Response(200, json={"state": "PENDING"})
        return answer(request) if callable(answer) else answer


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def net(clock):
    return Network(clock)


def make(net, clock, tokens=None, **kwargs):
    return ParticleClient(
        base_url=BASE + "/",
        client_id="cid",
        client_secret="csecret",
        scope="projects/p1",
        transport=httpx.MockTransport(net),
        tokens=tokens or TokenCache(),
        clock=clock,
        **kwargs,
    )


def status(**body):
    return httpx.Response(200, json=body)


# ---- tokens ----------------------------------------------------------------------------------------


def test_auth_is_a_get_with_client_headers_and_the_token_is_sent_as_bearer(net, clock):
    net.routes = [status(state="PENDING")]
    with make(net, clock) as c:
        c.query_status(particle_patient_id="pp1")
    (auth,) = net.auth_calls
    assert auth.method == "GET" and auth.url == f"{BASE}/auth"
    assert auth.headers["client-id"] == "cid" and auth.headers["client-secret"] == "csecret"
    assert auth.headers["scope"] == "projects/p1" and auth.headers["accept"] == "text/plain"
    assert net.calls[0].headers["authorization"] == f"Bearer {net.issued[0]}"


def test_no_scope_header_when_none_is_configured(net, clock):
    c = ParticleClient(
        base_url=BASE,
        client_id="cid",
        client_secret="s",
        transport=httpx.MockTransport(net),
        tokens=TokenCache(),
        clock=clock,
    )
    c.query_status(particle_patient_id="pp1")
    assert "scope" not in net.auth_calls[0].headers


def test_the_token_is_cached_across_calls_and_clients(net, clock):
    tokens = TokenCache()
    with make(net, clock, tokens) as c:
        c.query_status(particle_patient_id="pp1")
        c.query_status(particle_patient_id="pp1")
    with make(net, clock, tokens) as c:
        c.query_status(particle_patient_id="pp1")
    assert len(net.auth_calls) == 1 and len(net.calls) == 3


def test_the_token_is_renewed_ten_minutes_before_it_expires(net, clock):
    with make(net, clock) as c:
        c.query_status(particle_patient_id="pp1")
        clock.now += 3600 - 601
        c.query_status(particle_patient_id="pp1")
        assert len(net.auth_calls) == 1
        clock.now += 2
        c.query_status(particle_patient_id="pp1")
    assert len(net.auth_calls) == 2
    assert net.calls[-1].headers["authorization"] == f"Bearer {net.issued[1]}"


def test_a_short_lived_token_is_renewed_halfway(clock):
    net = Network(clock, lifetime=60)
    with make(net, clock) as c:
        c.query_status(particle_patient_id="pp1")
        clock.now += 29
        c.query_status(particle_patient_id="pp1")
        clock.now += 2
        c.query_status(particle_patient_id="pp1")
    assert len(net.auth_calls) == 2


def test_a_401_renews_the_token_once_and_retries(net, clock):
    with make(net, clock) as c:
        c.query_status(particle_patient_id="pp1")
        net.refuse.add(net.issued[0])
        net.routes = [status(state="COMPLETE")]
        assert c.query_status(particle_patient_id="pp1").phase == "complete"
    assert len(net.auth_calls) == 2
    assert [r.headers["authorization"] for r in net.calls[1:]] == [f"Bearer {t}" for t in net.issued]


def test_a_second_401_is_permanent(net, clock):
    net.auth_answer = lambda request: httpx.Response(200, text="same.token.value")
    net.refuse.add("same.token.value")
    with make(net, clock) as c, pytest.raises(NetworkPermanentError) as caught:
        c.query_status(particle_patient_id="pp1")
    assert caught.value.status == 401 and len(net.auth_calls) == 2 and len(net.calls) == 2


@pytest.mark.parametrize(
    ("answer", "lifetime"),
    [
        (lambda now: httpx.Response(200, json={"access_token": "a.b.c", "expires_in": 120}), 120),
        (lambda now: httpx.Response(200, text="access_token=a.b.c&expires_in=900"), 900),
        (lambda now: httpx.Response(200, text='"a.b.c"'), 3600),
        (lambda now: httpx.Response(200, text=jwt(now + 1800)), 1800),
    ],
    ids=["json", "form", "quoted-opaque", "jwt-exp"],
)
def test_every_documented_token_answer_is_read(net, clock, answer, lifetime):
    net.auth_answer = lambda request: answer(clock.now)
    tokens = TokenCache()
    with make(net, clock, tokens) as c:
        c.query_status(particle_patient_id="pp1")
    (token,) = tokens.tokens.values()
    assert token.expires_at - clock.now == pytest.approx(lifetime)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (401, NetworkPermanentError),
        (403, NetworkPermanentError),
        (500, NetworkTransientError),
        (429, NetworkTransientError),
    ],
)
def test_auth_failures_are_classified(net, clock, code, kind):
    net.auth_answer = lambda request: httpx.Response(code, text="no")
    with make(net, clock) as c, pytest.raises(kind) as caught:
        c.query_status(particle_patient_id="pp1")
    assert caught.value.status == code and not net.calls
    if kind is NetworkPermanentError:
        assert "client id and secret" in caught.value.detail


def test_an_empty_token_is_transient(net, clock):
    net.auth_answer = lambda request: httpx.Response(200, text="  ")
    with make(net, clock) as c, pytest.raises(NetworkTransientError):
        c.query_status(particle_patient_id="pp1")


# ---- error classes -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_is_transient(net, clock, code):
    net.routes = [httpx.Response(code, json={"error": "unavailable", "message": "later"})]
    with make(net, clock) as c, pytest.raises(NetworkTransientError) as caught:
        c.query_status(particle_patient_id="pp1")
    assert caught.value.status == code and caught.value.name == "unavailable"


def test_429_is_transient_with_retry_after(net, clock):
    net.routes = [httpx.Response(429, headers={"Retry-After": "17"})]
    with make(net, clock) as c, pytest.raises(NetworkTransientError) as caught:
        c.query_status(particle_patient_id="pp1")
    assert caught.value.retry_after == 17.0


@pytest.mark.parametrize("error", [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("no")])
def test_timeouts_and_connection_failures_are_transient(net, clock, error):
    def boom(request):
        raise error

    net.routes = [boom]
    with make(net, clock) as c, pytest.raises(NetworkTransientError):
        c.query_status(particle_patient_id="pp1")


@pytest.mark.parametrize("code", [400, 403, 404, 409, 422])
def test_4xx_is_permanent(net, clock, code):
    net.routes = [httpx.Response(code, json={"error": "validation", "message": "address_state must be two letters"})]
    with make(net, clock) as c, pytest.raises(NetworkPermanentError) as caught:
        c.patient_register(patient=patient_from_demographics(demographics=DEMOGRAPHICS, patient_id="hp-1"))
    assert caught.value.status == code
    assert caught.value.detail == "address_state must be two letters"


def test_a_redirect_is_permanent(net, clock):
    net.routes = [httpx.Response(302, headers={"location": "https://elsewhere.test/"})]
    with make(net, clock) as c, pytest.raises(NetworkPermanentError) as caught:
        c.query_status(particle_patient_id="pp1")
    assert caught.value.status == 302


def test_an_answer_that_is_not_understood_is_transient(net, clock):
    net.routes = [httpx.Response(200, text="<html>oops</html>")]
    with make(net, clock) as c, pytest.raises(NetworkTransientError):
        c.query_status(particle_patient_id="pp1")


def test_error_messages_carry_the_path_template_not_ids_or_demographics(net, clock):
    net.routes = [httpx.Response(422, json={"message": "Jane Doe born 1968-04-12 rejected"})]
    with make(net, clock) as c, pytest.raises(NetworkPermanentError) as caught:
        c.patient_register(patient=patient_from_demographics(demographics=DEMOGRAPHICS, patient_id="hp-1"))
    assert str(caught.value) == "POST /api/v2/patients: HTTP 422"
    net.routes = [httpx.Response(500)]
    with make(net, clock) as c, pytest.raises(NetworkTransientError) as transient:
        c.query_status(particle_patient_id="pp-secret-id")
    assert "pp-secret-id" not in str(transient.value)


# ---- patients --------------------------------------------------------------------------------------


def test_registration_sends_particles_fields_and_reads_its_id(net, clock):
    net.routes = [status(particle_patient_id="ppid-1", patient_id="hp-1", given_name="Jane")]
    with make(net, clock) as c:
        out = c.patient_register(patient=patient_from_demographics(demographics=DEMOGRAPHICS, patient_id="hp-1"))
    assert out.particle_patient_id == "ppid-1"
    request = net.calls[0]
    assert request.method == "POST" and request.url.path == "/api/v2/patients"
    assert json.loads(request.content) == {
        "given_name": "Jane",
        "family_name": "Doe",
        "date_of_birth": "1968-04-12",
        "gender": "FEMALE",
        "postal_code": "62704",
        "address_city": "Springfield",
        "address_state": "IL",
        "patient_id": "hp-1",
        "address_lines": ["12 Main St"],
        "telephone": "217-555-0123",
        "email": "jane@example.com",
    }


def test_a_registration_answer_without_an_id_is_transient(net, clock):
    net.routes = [status(given_name="Jane")]
    with make(net, clock) as c, pytest.raises(NetworkTransientError):
        c.patient_register(patient=patient_from_demographics(demographics=DEMOGRAPHICS, patient_id="hp-1"))


def demographics(**address_or_fields: str) -> dict[str, Any]:
    address: dict[str, str] = {**DEMOGRAPHICS["address"][0]}
    fields: dict[str, str] = {}
    for key, value in address_or_fields.items():
        (address if key in address or key == "zip" else fields)[key] = value
    return {**DEMOGRAPHICS, **fields, "address": [address]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"state": "Massachusetts"}, "address_state"),
        ({"state": "XX"}, "address_state"),
        ({"zip": "1234"}, "postal_code"),
        ({"zip": "ABCDE"}, "postal_code"),
        ({"genderAtBirth": "O"}, "gender"),
        ({"genderAtBirth": "U"}, "gender"),
        ({"dob": "12/04/1968"}, "date_of_birth"),
        ({"city": ""}, "address_city"),
        ({"firstName": ""}, "name"),
    ],
)
def test_what_particle_rejects_is_refused_before_sending_with_words(change, field):
    with pytest.raises(NetworkPermanentError) as caught:
        patient_from_demographics(demographics=demographics(**change), patient_id="hp-1")
    assert caught.value.name == field and caught.value.status is None
    assert caught.value.detail.endswith(".") and "Particle" in caught.value.detail


def test_accepted_forms_are_normalised():
    patient = patient_from_demographics(
        demographics=demographics(state="ma", zip="021391234", genderAtBirth="male"), patient_id="hp-1"
    )
    assert (patient.address_state, patient.postal_code, patient.gender) == ("MA", "02139-1234", "MALE")
    assert patient_from_demographics(demographics=demographics(zip="02139-1234"), patient_id="x").postal_code == (
        "02139-1234"
    )


def test_optional_fields_are_left_out_when_empty(net, clock):
    bare = {**DEMOGRAPHICS, "contact": []}
    net.routes = [status(particle_patient_id="ppid-1")]
    with make(net, clock) as c:
        c.patient_register(patient=patient_from_demographics(demographics=bare, patient_id="hp-1"))
    sent = json.loads(net.calls[0].content)
    assert "telephone" not in sent and "email" not in sent


def test_delete_is_idempotent(net, clock):
    net.routes = [httpx.Response(200, text="delete successful"), httpx.Response(404)]
    with make(net, clock) as c:
        c.patient_delete(particle_patient_id="pp1")
        c.patient_delete(particle_patient_id="pp1")
    assert [(r.method, r.url.path) for r in net.calls] == [("DELETE", "/api/v2/patients/pp1")] * 2


# ---- queries ----------------------------------------------------------------------------------------


def test_query_submit_sends_the_purpose_specialties_and_hints(net, clock):
    net.routes = [status(particle_patient_id="pp1", query_id="q1", purpose_of_use="TREATMENT", hints=["10001"])]
    with make(net, clock) as c:
        out = c.query_submit(
            particle_patient_id="pp1", purpose_of_use="TREATMENT", specialties=["CARDIOLOGY"], hints={"zip": "10001"}
        )
    assert out.query_id == "q1"
    request = net.calls[0]
    assert request.url.path == "/api/v2/patients/pp1/query"
    assert json.loads(request.content) == {
        "purpose_of_use": "TREATMENT",
        "specialties": ["CARDIOLOGY"],
        "hints": {"zip": "10001"},
    }


def test_the_sdk_short_submit_answer_is_read(net, clock):
    net.routes = [status(particle_patient_id="pp1")]
    with make(net, clock) as c:
        assert c.query_submit(particle_patient_id="pp1", purpose_of_use="OPERATIONS").query_id == ""


@pytest.mark.parametrize("purpose", ["", "IAS", "treatment", "PATIENT_REQUEST"])
def test_only_a_documented_purpose_is_sent(net, clock, purpose):
    with make(net, clock) as c, pytest.raises(NetworkPermanentError):
        c.query_submit(particle_patient_id="pp1", purpose_of_use=purpose)
    assert not net.calls and not net.auth_calls


@pytest.mark.parametrize(
    ("state", "phase", "finished"),
    [
        ("PENDING", "pending", False),
        ("PROCESSING", "running", False),
        ("RUNNING", "running", False),
        ("COMPLETE", "complete", True),
        ("PARTIAL", "partial", True),
        ("FAILED", "failed", True),
        ("QUEUED", "running", False),
    ],
)
def test_every_query_state(net, clock, state, phase, finished):
    net.routes = [status(state=state, files_available="3", error_message=None)]
    with make(net, clock) as c:
        out = c.query_status(particle_patient_id="pp1", query_id="q1")
    assert (out.phase, out.finished, out.files_available) == (phase, finished, 3)
    assert dict(net.calls[0].url.params) == {"query_id": "q1"}


def test_a_failed_query_keeps_its_message(net, clock):
    net.routes = [status(state="FAILED", error_message="no matching records")]
    with make(net, clock) as c:
        assert c.query_status(particle_patient_id="pp1").error_message == "no matching records"
    assert "query_id" not in net.calls[0].url.params


def test_a_404_right_after_the_submit_is_transient(net, clock):
    net.routes = [httpx.Response(404, json={"message": "not found"})]
    with make(net, clock) as c, pytest.raises(NetworkTransientError) as caught:
        c.query_status(particle_patient_id="pp1", query_id="q1", submitted_at=clock.now - 3)
    assert caught.value.status == 404 and caught.value.retry_after == 5.0


def test_a_404_long_after_the_submit_is_permanent(net, clock):
    net.routes = [httpx.Response(404), httpx.Response(404)]
    with make(net, clock) as c:
        with pytest.raises(NetworkPermanentError):
            c.query_status(particle_patient_id="pp1", query_id="q1", submitted_at=clock.now - STATUS_404_GRACE_SECONDS)
        with pytest.raises(NetworkPermanentError):
            c.query_status(particle_patient_id="pp1", query_id="q1")


# ---- results ----------------------------------------------------------------------------------------


def test_fhir_bundle_is_returned_as_raw_json(net, clock):
    bundle = b'{"resourceType":"Bundle","type":"collection","entry":[]}'
    net.routes = [httpx.Response(200, content=bundle, headers={"content-type": "application/json"})]
    with make(net, clock) as c:
        assert c.fhir_bundle(particle_patient_id="pp1") == bundle
    assert net.calls[0].url.path == "/api/v2/patients/pp1/fhir"


def test_a_fhir_answer_that_is_not_json_is_transient(net, clock):
    net.routes = [httpx.Response(200, content=b"PK\x03\x04")]
    with make(net, clock) as c, pytest.raises(NetworkTransientError):
        c.fhir_bundle(particle_patient_id="pp1")


def test_ccda_zip_and_its_empty_forms(net, clock):
    net.routes = [
        httpx.Response(200, content=b"PK\x03\x04rest", headers={"content-type": "application/zip"}),
        httpx.Response(204),
        httpx.Response(200, content=b"<html/>"),
    ]
    with make(net, clock) as c:
        assert c.ccda_zip(particle_patient_id="pp1") == b"PK\x03\x04rest"
        assert c.ccda_zip(particle_patient_id="pp1") == b""
        with pytest.raises(NetworkTransientError):
            c.ccda_zip(particle_patient_id="pp1")
    assert net.calls[0].url.path == "/api/v2/patients/pp1/ccda"


# ---- configuration -----------------------------------------------------------------------------------


def test_particle_is_off_without_a_purpose_and_says_why(settings):
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = ""
    assert "PARTICLE_PURPOSE_OF_USE is not set" in off_reason()
    settings.PARTICLE_PURPOSE_OF_USE = "IAS"
    assert "not a purpose Particle documents" in off_reason()


def test_particle_is_on_with_a_purpose_and_credentials(settings):
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = "TREATMENT"
    settings.PARTICLE_BASE_URL = BASE
    settings.PARTICLE_CLIENT_ID = "cid"
    settings.PARTICLE_CLIENT_SECRET = "s"
    settings.PARTICLE_WEBHOOK_SECRET = "w"
    assert off_reason() == ""
    settings.PARTICLE_CLIENT_SECRET = ""
    assert off_reason() == "Particle is off: PARTICLE_CLIENT_SECRET must be set."


def test_the_struct_is_the_body():
    patient = ParticlePatient(
        given_name="A",
        family_name="B",
        date_of_birth="2000-01-01",
        gender="MALE",
        postal_code="02139",
        address_city="C",
        address_state="MA",
        patient_id="p",
    )
    assert "address_lines" not in json.loads(json.dumps(__import__("msgspec").to_builtins(patient)))


def test_answers_are_capped_and_gzip_is_decoded(net, clock):
    import gzip

    bundle = b'{"resourceType":"Bundle","entry":[' + b'{"x":1},' * 50 + b'{"x":1}]}'
    net.routes = [
        httpx.Response(200, content=gzip.compress(bundle), headers={"content-encoding": "gzip"}),
        httpx.Response(200, content=bundle),
        httpx.Response(200, content=b'{"state":"PENDING","pad":"' + b"x" * (1024 * 1024) + b'"}'),
    ]
    with make(net, clock, results_max_bytes=len(bundle)) as c:
        assert c.fhir_bundle(particle_patient_id="pp1") == bundle
    with make(net, clock, results_max_bytes=len(bundle) - 1) as c, pytest.raises(NetworkPermanentError) as caught:
        c.fhir_bundle(particle_patient_id="pp1")
    assert caught.value.name == "too_large"
    with make(net, clock) as c, pytest.raises(NetworkPermanentError):
        c.query_status(particle_patient_id="pp1")
