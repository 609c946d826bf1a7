"""The network client against a faked transport: every call's shape and every error class."""

import json

import httpx
import pytest

from ias.metriport import MetriportClient
from ias.network import NetworkPermanentError, NetworkTransientError, SourceChoice


def make_client(handler):
    return MetriportClient(base_url="https://network.test/", api_key="k-123", transport=httpx.MockTransport(handler))


def problem(status, name="Bad", detail="zip must have 5 digits", headers=None):
    return httpx.Response(
        status, json={"status": status, "name": name, "title": name, "detail": detail}, headers=headers
    )


def test_patient_create_sends_key_facility_and_body():
    seen = {}

    def handler(request):
        seen["method"] = request.method
        seen["path"] = request.url.path
        seen["params"] = dict(request.url.params)
        seen["key"] = request.headers["x-api-key"]
        seen["body"] = json.loads(request.content)
        return httpx.Response(201, json={"id": "pat_1", "eTag": "1"})

    with make_client(handler) as c:
        out = c.patient_create(facility_id="fac_1", demographics={"firstName": "Ann"})
    assert out["id"] == "pat_1"
    assert seen == {
        "method": "POST",
        "path": "/medical/v1/patient",
        "params": {"facilityId": "fac_1"},
        "key": "k-123",
        "body": {"firstName": "Ann"},
    }


def test_network_query_sends_ias_purpose_aal2_header_and_sources():
    seen = {}

    def handler(request):
        seen["params"] = dict(request.url.params)
        seen["aal2"] = request.headers.get("x-aal2-session")
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json={"requestId": "req_1", "status": "processing", "sources": [], "errors": []})

    with make_client(handler) as c:
        out = c.network_query_start(
            patient_id="pat_1",
            proofed_identity_id="pid_1",
            aal2_session_id="aal2_x",
            sources=SourceChoice(hie=True, pharmacy=False, lab=True),
            metadata={"homeportQueryId": "q1"},
        )
    assert out["requestId"] == "req_1"
    assert seen["params"] == {"patientId": "pat_1", "purposeOfUse": "ias"}
    assert seen["aal2"] == "aal2_x"
    assert seen["body"] == {
        "sources": {"hie": {"enabled": True}, "pharmacy": {"enabled": False}, "lab": {"enabled": True}},
        "proofedIdentityId": "pid_1",
        "metadata": {"homeportQueryId": "q1"},
    }


def test_consolidated_query_uses_query_parameters_and_drops_empty_ones():
    seen = {}

    def handler(request):
        seen["path"] = request.url.path
        seen["params"] = dict(request.url.params)
        return httpx.Response(200, json={"requestId": "cq_1", "status": "processing"})

    with make_client(handler) as c:
        c.consolidated_query_start(patient_id="pat_1", resources=["Observation", "Condition"])
    assert seen["path"] == "/medical/v1/patient/pat_1/consolidated/query"
    assert seen["params"] == {"conversionType": "json", "resources": "Observation,Condition"}


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda c: c.patient_get(patient_id="p"), "GET", "/medical/v1/patient/p"),
        (
            lambda c: c.patient_update(patient_id="p", facility_id="f", demographics={}),
            "PUT",
            "/medical/v1/patient/p",
        ),
        (lambda c: c.patient_delete(patient_id="p", facility_id="f"), "DELETE", "/medical/v1/patient/p"),
        (
            lambda c: c.identity_session_create(patient_id="p", redirect_url="https://x/"),
            "POST",
            "/medical/v1/identity/session",
        ),
        (
            lambda c: c.aal2_challenge_create(proofed_identity_id="pid", redirect_url="https://x/"),
            "POST",
            "/medical/v1/identity/aal2/challenge",
        ),
        (lambda c: c.network_query_get(request_id="r"), "GET", "/medical/v1/network/query/r"),
        (
            lambda c: c.consolidated_query_list(patient_id="p"),
            "GET",
            "/medical/v1/patient/p/consolidated/query",
        ),
        (
            lambda c: c.consolidated_query_get(patient_id="p", request_id="r"),
            "GET",
            "/medical/v1/patient/p/consolidated/query/r",
        ),
        (lambda c: c.documents_list(patient_id="p"), "GET", "/medical/v1/document"),
        (lambda c: c.document_download_url(file_name="f.xml"), "GET", "/medical/v1/document/download-url"),
        (
            lambda c: c.document_bulk_download_start(patient_id="p"),
            "POST",
            "/medical/v1/document/download-url/bulk",
        ),
        (lambda c: c.settings_update(webhook_url="https://x/"), "POST", "/settings"),
        (lambda c: c.settings_webhook_get(), "GET", "/settings/webhook"),
        (lambda c: c.settings_webhook_retry(), "POST", "/settings/webhook/retry"),
    ],
)
def test_every_call_reaches_its_endpoint(call, method, path):
    seen = {}

    def handler(request):
        seen["method"], seen["path"] = request.method, request.url.path
        return httpx.Response(200, json={"queries": None, "url": "https://doc/"})

    with make_client(handler) as c:
        call(c)
    assert (seen["method"], seen["path"]) == (method, path)


def test_empty_204_answer_is_an_empty_dict():
    with make_client(lambda r: httpx.Response(204)) as c:
        assert c.patient_get(patient_id="p") == {}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_4xx_is_permanent_and_carries_detail_outside_the_message(status):
    with make_client(lambda r: problem(status)) as c, pytest.raises(NetworkPermanentError) as info:
        c.patient_create(facility_id="f", demographics={})
    err = info.value
    assert err.status == status
    assert err.detail == "zip must have 5 digits"
    assert err.name == "Bad"
    assert "zip" not in str(err)
    assert err.is_not_found is (status == 404)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(status):
    with (
        make_client(lambda r: problem(status, name="Internal")) as c,
        pytest.raises(NetworkTransientError) as info,
    ):
        c.network_query_get(request_id="r")
    assert info.value.status == status
    assert info.value.retry_after is None


def test_429_is_transient_with_retry_after_seconds():
    with (
        make_client(lambda r: problem(429, headers={"Retry-After": "17"})) as c,
        pytest.raises(NetworkTransientError) as info,
    ):
        c.network_query_get(request_id="r")
    assert info.value.status == 429
    assert info.value.retry_after == 17.0


def test_429_falls_back_to_ratelimit_reset_header():
    with (
        make_client(lambda r: problem(429, headers={"RateLimit-Reset": "42"})) as c,
        pytest.raises(NetworkTransientError) as info,
    ):
        c.network_query_get(request_id="r")
    assert info.value.retry_after == 42.0


def test_429_with_http_date_retry_after():
    with (
        make_client(lambda r: problem(429, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})) as c,
        pytest.raises(NetworkTransientError) as info,
    ):
        c.network_query_get(request_id="r")
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0


def test_read_timeout_is_transient():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with make_client(handler) as c, pytest.raises(NetworkTransientError, match="timed out"):
        c.patient_get(patient_id="p")


def test_connect_timeout_is_transient():
    def handler(request):
        raise httpx.ConnectTimeout("slow", request=request)

    with make_client(handler) as c, pytest.raises(NetworkTransientError, match="timed out"):
        c.patient_get(patient_id="p")


def test_connection_error_is_transient():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with make_client(handler) as c, pytest.raises(NetworkTransientError, match="connection failed"):
        c.patient_get(patient_id="p")


def test_redirect_is_not_followed_and_is_permanent():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        return httpx.Response(302, headers={"location": "https://elsewhere.test/"})

    with make_client(handler) as c, pytest.raises(NetworkPermanentError) as info:
        c.patient_get(patient_id="p")
    assert info.value.status == 302
    assert calls == ["/medical/v1/patient/p"]


def test_2xx_that_is_not_json_is_transient():
    with (
        make_client(lambda r: httpx.Response(200, text="<html>proxy</html>")) as c,
        pytest.raises(NetworkTransientError),
    ):
        c.patient_get(patient_id="p")


def test_error_body_that_is_not_json_still_classifies():
    with (
        make_client(lambda r: httpx.Response(400, text="nope")) as c,
        pytest.raises(NetworkPermanentError) as info,
    ):
        c.patient_get(patient_id="p")
    assert info.value.detail == ""


def test_client_has_explicit_timeouts_and_no_redirects():
    c = MetriportClient(base_url="https://n.test", api_key="k", connect_timeout=2, read_timeout=9)
    assert c._http.timeout.connect == 2
    assert c._http.timeout.read == 9
    assert c._http.follow_redirects is False
    c.close()


def test_client_from_settings_uses_configured_key(settings):
    from ias import metriport

    settings.METRIPORT_BASE_URL = "https://configured.test/api"
    settings.METRIPORT_API_KEY = "from-settings"
    seen = {}

    def handler(request):
        seen["url"] = str(request.url)
        seen["key"] = request.headers["x-api-key"]
        return httpx.Response(200, json={})

    metriport.use_transport(httpx.MockTransport(handler))
    try:
        metriport.client().patient_get(patient_id="p")
    finally:
        metriport.use_transport(None)
    assert seen == {"url": "https://configured.test/api/medical/v1/patient/p", "key": "from-settings"}
