"""Section 2: identity sessions, the hosted identity page, AAL2 challenges and the hosted AAL2 page."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.utils import timezone

from tests.helpers import totp_now
from tests.sandbox import contract
from tests.sandbox.conftest import query_params, webhooks
from tests.sandbox.test_api_patients import problem

RETURN = "http://portal.test/journey/identity/return?x=1"


def start_session(api, patient_id):
    response = api.post(
        "/medical/v1/identity/session",
        {"patientId": patient_id, "redirectUrl": RETURN, "metadata": {"userRef": "u1"}},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_session_create_shape(api, make_patient):
    body = start_session(api, make_patient()["id"])
    assert body["sessionId"].startswith("ids_") and body["status"] == "pending"
    assert body["sessionUrl"].startswith("http://testserver/sandbox/identity/")
    assert contract.ISO_UTC.match(body["expiresAt"])


def test_session_create_errors(api, make_patient):
    patient = make_patient()
    problem(api.post("/medical/v1/identity/session", {"patientId": "nope", "redirectUrl": RETURN}), 404)
    problem(api.post("/medical/v1/identity/session", {"redirectUrl": RETURN}), 400, "patientId")
    problem(
        api.post("/medical/v1/identity/session", {"patientId": patient["id"], "redirectUrl": "javascript:x"}),
        400,
        "redirectUrl",
    )
    problem(
        api.post(
            "/medical/v1/identity/session",
            {"patientId": patient["id"], "redirectUrl": RETURN, "metadata": {"k": 1}},
        ),
        400,
        "metadata.k",
    )
    problem(api.get("/medical/v1/identity/session/ids_unknown"), 404)


def test_hosted_page_shows_who_and_says_it_is_the_sandbox(api, make_patient):
    session = start_session(api, make_patient()["id"])
    page = api.client.get(urlsplit(session["sessionUrl"]).path)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Sandbox identity provider" in text and "Jane" in text and "1968-04-12" in text
    assert "Sandbox helper" in text and 'name="outcome"' in text


def test_verified_redirects_back_and_sends_the_webhook(api, make_patient):
    patient = make_patient()
    session = start_session(api, patient["id"])
    path = urlsplit(session["sessionUrl"]).path
    response = api.client.post(path, {"document": "on", "selfie": "on", "outcome": "verified"})
    assert response.status_code == 302
    assert response["Location"].startswith("http://portal.test/journey/identity/return?")
    params = query_params(response["Location"])
    assert params == {"x": "1", "sessionId": session["sessionId"], "status": "verified"}
    (hook,) = webhooks("ias.")
    payload = contract.check_identity(hook)
    assert hook["meta"]["data"] == {"userRef": "u1"}
    assert payload["patientId"] == patient["id"] and payload["sessionId"] == session["sessionId"]
    assert payload["externalId"] == "hp-user-1"
    detail = api.get(f"/medical/v1/identity/session/{session['sessionId']}").json()
    assert detail["status"] == "completed" and detail["proofedIdentityId"] == payload["proofedIdentityId"]
    # single use
    again = api.client.get(path)
    assert again.status_code == 410
    assert api.client.post(path, {"outcome": "verified", "document": "on", "selfie": "on"}).status_code == 410
    assert len(webhooks("ias.")) == 1


def test_verified_needs_the_simulated_steps(api, make_patient):
    session = start_session(api, make_patient()["id"])
    response = api.client.post(urlsplit(session["sessionUrl"]).path, {"outcome": "verified"})
    assert response.status_code == 400
    assert "selfie" in response.content.decode().lower()
    assert webhooks("ias.") == []


def test_failed_and_abandoned_send_other_ias_events(api, make_patient):
    for outcome, event in (("failed", "ias.identity.failed"), ("abandoned", "ias.identity.expired")):
        session = start_session(api, make_patient()["id"])
        response = api.client.post(urlsplit(session["sessionUrl"]).path, {"outcome": outcome})
        assert query_params(response["Location"])["status"] == outcome
        hook = webhooks(event)[-1]
        payload = contract.check_identity(hook)
        assert "proofedIdentityId" not in payload


def test_idfail_persona_always_fails(api, make_patient):
    session = start_session(api, make_patient(firstName="Pat", lastName="Idfail")["id"])
    path = urlsplit(session["sessionUrl"]).path
    assert "Pat Idfail" in api.client.get(path).content.decode()
    response = api.client.post(path, {"document": "on", "selfie": "on", "outcome": "verified"})
    assert query_params(response["Location"])["status"] == "failed"
    assert [h["meta"]["type"] for h in webhooks("ias.")] == ["ias.identity.failed"]


def test_an_expired_session_cannot_be_used(api, make_patient):
    from sandbox.models import IdentitySession

    session = start_session(api, make_patient()["id"])
    IdentitySession.objects.filter(pk=session["sessionId"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.client.get(urlsplit(session["sessionUrl"]).path).status_code == 410
    assert api.get(f"/medical/v1/identity/session/{session['sessionId']}").json()["status"] == "expired"


def test_aal2_challenge_and_hosted_totp_page(api, proofed):
    _patient, identity_id = proofed()
    response = api.post(
        "/medical/v1/identity/aal2/challenge",
        {"proofedIdentityId": identity_id, "redirectUrl": "http://portal.test/aal2/return"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["challengeId"].startswith("aalc_") and body["method"] == "totp"
    assert contract.ISO_UTC.match(body["expiresAt"])
    path = urlsplit(body["challengeUrl"]).path
    page = api.client.get(path).content.decode()
    assert "Sandbox identity provider" in page and "Sandbox helper" in page
    secret_match = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page)
    assert secret_match is not None
    secret = secret_match.group(1)
    shown_match = re.search(r'data-testid="current-code">(\d{6})<', page)
    assert shown_match is not None
    shown = shown_match.group(1)
    assert shown in {totp_now(secret, at=t) for t in (timezone.now().timestamp() + d for d in (-30, 0, 30))}
    wrong = api.client.post(path, {"code": "000000" if totp_now(secret) != "000000" else "111111"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    ok = api.client.post(path, {"code": totp_now(secret)})
    assert ok.status_code == 302
    params = query_params(ok["Location"])
    assert params["status"] == "verified" and params["aal2SessionId"].startswith("aal2_")
    assert api.client.get(path).status_code == 410


def test_aal2_challenge_errors(api, proofed):
    problem(
        api.post(
            "/medical/v1/identity/aal2/challenge",
            {"proofedIdentityId": "pid_nope", "redirectUrl": "http://portal.test/r"},
        ),
        404,
    )
    problem(
        api.post("/medical/v1/identity/aal2/challenge", {"redirectUrl": "http://portal.test/r"}),
        400,
        "proofedIdentityId",
    )
    _patient, identity_id = proofed()
    problem(
        api.post("/medical/v1/identity/aal2/challenge", {"proofedIdentityId": identity_id}),
        400,
        "redirectUrl",
    )


def test_five_wrong_codes_fail_the_challenge(api, proofed):
    _patient, identity_id = proofed()
    body = api.post(
        "/medical/v1/identity/aal2/challenge",
        {"proofedIdentityId": identity_id, "redirectUrl": "http://portal.test/r"},
    ).json()
    path = urlsplit(body["challengeUrl"]).path
    for _ in range(4):
        assert api.client.post(path, {"code": "abc"}).status_code == 400
    last = api.client.post(path, {"code": "abc"})
    assert last.status_code == 302 and query_params(last["Location"]) == {"status": "failed"}


def test_an_expired_challenge_cannot_be_used(api, proofed):
    from sandbox.models import Aal2Challenge

    _patient, identity_id = proofed()
    body = api.post(
        "/medical/v1/identity/aal2/challenge",
        {"proofedIdentityId": identity_id, "redirectUrl": "http://portal.test/r"},
    ).json()
    Aal2Challenge.objects.filter(pk=body["challengeId"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.client.get(urlsplit(body["challengeUrl"]).path).status_code == 410


def test_unknown_hosted_pages_are_404(api):
    assert api.client.get("/sandbox/identity/ids_nope").status_code == 404
    assert api.client.get("/sandbox/aal2/aalc_nope").status_code == 404
