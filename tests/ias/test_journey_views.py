"""The wizard: consent → details → identity → wait → AAL2 → sources → progress, and resuming."""

import pytest
from django.urls import reverse

from ias import selectors
from ias.models import Aal2Challenge, IdentityVerification, NetworkPatient, NetworkQuery
from tests.ias.conftest import aal2_passed, consented, linked, verified
from tests.ias.fakes import envelope, source_event
from tests.ias.helpers import deliver

pytestmark = pytest.mark.django_db

DETAILS = {
    "first_name": "Ann",
    "last_name": "Example",
    "dob": "1980-04-23",
    "gender_at_birth": "F",
    "address_line1": "1 Main St",
    "city": "Boston",
    "state": "MA",
    "zip": "02139",
    "phone": "(617) 555-0123",
    "email": "ann@example.com",
}


def test_journey_pages_need_a_second_factor(client, user):
    client.force_login(user)
    response = client.get(reverse("ias:consent"))
    assert response.status_code == 302
    assert "2fa" in response["Location"] or "mfa" in response["Location"]


def test_consent_page_summarises_and_links_the_privacy_notice(client_mfa):
    response = client_mfa.get(reverse("ias:consent"))
    assert response.status_code == 200
    assert reverse("privacy").encode() in response.content
    assert b"never sell" in response.content


def test_consent_must_be_ticked_and_is_recorded(client_mfa, mfa_user):
    from accounts.selectors import consent_current

    response = client_mfa.post(reverse("ias:consent"), {})
    assert response.status_code == 200
    assert b"Tick the box" in response.content
    response = client_mfa.post(reverse("ias:consent"), {"agree": "on"})
    assert response["Location"] == reverse("ias:demographics")
    assert consent_current(user=mfa_user) is not None


def test_details_validation_errors_sit_next_to_their_fields(client_mfa, mfa_user, network):
    consented(mfa_user)
    bad = {**DETAILS, "zip": "1234", "phone": "555", "dob": "2999-01-01", "state": "XX"}
    response = client_mfa.post(reverse("ias:demographics"), bad)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"zip", "phone", "dob", "state"}
    assert b'id="id_zip_error"' in response.content
    assert network.calls == []


def test_details_create_the_patient_once_then_update_it(client_mfa, mfa_user, network):
    consented(mfa_user)
    response = client_mfa.post(reverse("ias:demographics"), DETAILS)
    assert response["Location"] == reverse("ias:identity")
    link = NetworkPatient.objects.get(user=mfa_user)
    sent = network.calls_to("POST", "/medical/v1/patient")[0]
    assert sent[2] == {"facilityId": link.facility_id}
    assert sent[3]["address"] == [
        {"addressLine1": "1 Main St", "city": "Boston", "state": "MA", "zip": "02139", "country": "USA"}
    ]
    assert sent[3]["contact"] == [{"phone": "6175550123", "email": "ann@example.com"}]
    assert sent[3]["genderAtBirth"] == "F"
    client_mfa.post(reverse("ias:demographics"), {**DETAILS, "city": "Cambridge"})
    assert len(network.calls_to("POST", "/medical/v1/patient")) == 1
    assert network.calls_to("PUT", f"/medical/v1/patient/{link.patient_id}")[0][3]["address"][0]["city"] == "Cambridge"
    assert client_mfa.get(reverse("ias:demographics")).context["form"].initial["city"] == "Cambridge"


def test_network_refusal_of_details_is_shown_on_the_form(client_mfa, mfa_user, network):
    import httpx

    consented(mfa_user)
    network.on("POST", "/medical/v1/patient", httpx.Response(400, json={"status": 400, "detail": "dob is not valid"}))
    response = client_mfa.post(reverse("ias:demographics"), DETAILS)
    assert response.status_code == 200
    assert b"dob is not valid" in response.content


def test_network_down_on_details_says_try_again(client_mfa, mfa_user, network):
    import httpx

    consented(mfa_user)
    network.on("POST", "/medical/v1/patient", httpx.Response(503))
    response = client_mfa.post(reverse("ias:demographics"), DETAILS)
    assert b"could not be reached" in response.content


def test_identity_redirects_to_the_session_then_waits_for_the_webhook(client_mfa, mfa_user, network, no_enqueue):
    linked(mfa_user, "pat_1")
    response = client_mfa.post(reverse("ias:identity"))
    verification = IdentityVerification.objects.get(user=mfa_user)
    assert response["Location"] == verification.session_url
    redirect_url = network.calls_to("POST", "/medical/v1/identity/session")[0][3]["redirectUrl"]
    assert redirect_url.endswith(reverse("ias:identity_return"))
    assert client_mfa.get(reverse("ias:identity_return"))["Location"] == reverse("ias:identity_wait")
    page = client_mfa.get(reverse("ias:identity_wait"))
    assert page.status_code == 200
    assert b'href="/journey/identity/wait/"' in page.content
    assert b"http-equiv" not in page.content
    assert client_mfa.get(reverse("ias:identity_status")).json()["status"] == "pending"
    deliver(
        envelope(
            "ias.identity.verified",
            payload={
                "patientId": "pat_1",
                "sessionId": verification.session_id,
                "proofedIdentityId": "pid_1",
            },
        )
    )
    status = client_mfa.get(reverse("ias:identity_status")).json()
    assert status["status"] == "verified"
    assert status["next"] == reverse("ias:aal2")
    assert client_mfa.get(reverse("ias:identity_wait"))["Location"] == reverse("ias:aal2")


def test_waiting_page_nudges_a_fallback_poll_when_the_webhook_is_late(
    client_mfa, mfa_user, network, no_enqueue, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    linked(mfa_user, "pat_1")
    client_mfa.post(reverse("ias:identity"))
    IdentityVerification.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        client_mfa.get(reverse("ias:identity_status"))
        client_mfa.get(reverse("ias:identity_status"))
    assert [name for name, _ in no_enqueue] == ["ias.identity_poll"]


def test_identity_poll_finishes_from_the_network_answer(mfa_user, network):
    import httpx

    from ias import identity

    linked(mfa_user, "pat_1")
    verification = identity.identity_session_start(user=mfa_user)
    network.on(
        "GET",
        "/medical/v1/identity/session/",
        httpx.Response(
            200,
            json={"sessionId": verification.session_id, "status": "completed", "proofedIdentityId": "pid_7"},
        ),
    )
    identity.identity_poll(verification_id=verification.pk)
    verification.refresh_from_db()
    assert (verification.status, verification.proofed_identity_id) == ("verified", "pid_7")


def test_aal2_round_trip_then_sources_then_progress(client_mfa, mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    network.query_sources = ["hie", "lab"]
    network.query_errors = [{"source": "pharmacy", "httpStatus": 403, "message": "not enabled", "timestamp": "x"}]
    response = client_mfa.post(reverse("ias:aal2"))
    challenge = Aal2Challenge.objects.get(user=mfa_user)
    assert response["Location"] == challenge.challenge_url
    redirect_url = network.calls_to("POST", "/medical/v1/identity/aal2/challenge")[0][3]["redirectUrl"]
    assert redirect_url.endswith(f"/journey/check/return/{challenge.state}/")
    back = client_mfa.get(f"/journey/check/return/{challenge.state}/?aal2SessionId=aal2_xyz&status=verified")
    assert back["Location"] == reverse("ias:sources")
    assert client_mfa.get(reverse("ias:sources")).status_code == 200
    response = client_mfa.post(reverse("ias:sources"), {"hie": "on", "pharmacy": "on", "lab": "on"})
    query = NetworkQuery.objects.get(user=mfa_user)
    assert response["Location"] == reverse("ias:progress", args=[query.public_id])
    sent = network.calls_to("POST", "/medical/v1/network/query")[0]
    assert sent[4]["x-aal2-session"] == "aal2_xyz"
    assert sent[3]["proofedIdentityId"] == "pid_pat_1"
    page = client_mfa.get(response["Location"])
    rows = {r["type"]: r for r in page.context["progress"]["sources"]}
    assert set(rows) == {"hie", "pharmacy", "lab"}
    assert rows["pharmacy"]["status"] == "refused"
    assert "not available" in rows["pharmacy"]["reason"]
    assert b"Refresh" in page.content
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:progress", args=[query.public_id])
    assert query.request_id is not None
    for source in ("hie", "lab"):
        deliver(source_event(source, patient_id="pat_1", request_id=query.request_id, url=""))
    status = client_mfa.get(reverse("ias:progress_status", args=[query.public_id])).json()
    assert status["terminal"] is True
    assert [r["status"] for r in status["sources"]] == ["completed", "refused", "completed"]


def test_aal2_return_for_someone_elses_challenge_is_refused(client_mfa, mfa_user, other_user, network):
    verified(other_user, "pat_other")
    theirs = Aal2Challenge.objects.create(user=other_user, proofed_identity_id="pid_pat_other")
    verified(mfa_user, "pat_1")
    response = client_mfa.get(
        f"/journey/check/return/{theirs.state}/?aal2SessionId=aal2_x&status=verified", follow=True
    )
    assert response.redirect_chain[0][0] == reverse("ias:aal2")
    assert b"does not belong" in response.content
    theirs.refresh_from_db()
    assert theirs.status == "pending"


def test_aal2_return_with_wrong_challenge_id_is_refused(client_mfa, mfa_user, network):
    verified(mfa_user, "pat_1")
    client_mfa.post(reverse("ias:aal2"))
    challenge = Aal2Challenge.objects.get(user=mfa_user)
    response = client_mfa.get(
        f"/journey/check/return/{challenge.state}/?aal2SessionId=aal2_x&status=verified&challengeId=aalc_other"
    )
    assert response["Location"] == reverse("ias:aal2")
    assert not Aal2Challenge.objects.filter(status="verified").exists()


def test_failed_aal2_sends_the_person_back_with_an_explanation(client_mfa, mfa_user, network):
    verified(mfa_user, "pat_1")
    client_mfa.post(reverse("ias:aal2"))
    challenge = Aal2Challenge.objects.get(user=mfa_user)
    response = client_mfa.get(f"/journey/check/return/{challenge.state}/?status=failed", follow=True)
    assert response.redirect_chain[-1][0] == reverse("ias:aal2")
    assert b"not completed" in response.content
    challenge.refresh_from_db()
    assert challenge.status == "refused"


def test_network_refusing_the_aal2_session_sends_the_person_back_through_it(client_mfa, mfa_user, network):
    import httpx

    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    network.on(
        "POST",
        "/medical/v1/network/query",
        httpx.Response(
            401, json={"status": 401, "detail": "x-aal2-session has expired; complete a new AAL2 challenge"}
        ),
    )
    response = client_mfa.post(reverse("ias:sources"), {"hie": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("ias:aal2")
    assert b"did not accept your security check" in response.content
    assert Aal2Challenge.objects.get(user=mfa_user).status == "refused"
    assert NetworkQuery.objects.get(user=mfa_user).status == "failed"


def test_stale_aal2_is_not_spent(client_mfa, mfa_user, network):
    from datetime import timedelta

    from django.utils import timezone

    verified(mfa_user, "pat_1")
    challenge = aal2_passed(mfa_user)
    Aal2Challenge.objects.filter(pk=challenge.pk).update(verified_at=timezone.now() - timedelta(minutes=20))
    response = client_mfa.get(reverse("ias:sources"))
    assert response["Location"] == reverse("ias:aal2")
    assert network.calls == []


def test_network_down_when_starting_keeps_the_aal2_session(client_mfa, mfa_user, network):
    import httpx

    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    network.on("POST", "/medical/v1/network/query", httpx.Response(502))
    response = client_mfa.post(reverse("ias:sources"), {"hie": "on"})
    assert response.status_code == 200
    assert b"could not be reached" in response.content
    assert Aal2Challenge.objects.get(user=mfa_user).status == "verified"


def test_no_source_chosen_is_an_error_next_to_the_form(client_mfa, mfa_user, network):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    response = client_mfa.post(reverse("ias:sources"), {})
    assert b"at least one" in response.content
    assert network.calls == []


def test_another_persons_progress_page_is_404(client_mfa, other_user, network, no_enqueue):
    verified(other_user, "pat_other")
    aal2_passed(other_user)
    from ias import queries
    from ias.network import SourceChoice

    theirs = queries.network_query_start(user=other_user, sources=SourceChoice())
    assert client_mfa.get(reverse("ias:progress", args=[theirs.public_id])).status_code == 404
    assert client_mfa.get(reverse("ias:progress_status", args=[theirs.public_id])).status_code == 404


def test_next_url_at_every_step_and_returning_person_repeats_only_aal2(mfa_user, network, no_enqueue):
    from ias import identity, queries
    from ias.network import SourceChoice

    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:consent")
    consented(mfa_user)
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:demographics")
    NetworkPatient.objects.create(user=mfa_user, patient_id="pat_1", facility_id="f")
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:identity")
    identity.identity_session_start(user=mfa_user)
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:identity_wait")
    IdentityVerification.objects.update(status="verified", proofed_identity_id="pid_1")
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:aal2")
    aal2_passed(mfa_user)
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:sources")
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    assert selectors.journey_next_url(user=mfa_user) == reverse("ias:progress", args=[query.public_id])
    assert query.request_id is not None
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, url=""))
    assert selectors.journey_next_url(user=mfa_user) == reverse("records:summary")
    assert selectors.journey_next_step(user=mfa_user).key == "records"


def test_start_page_follows_the_journey(client_mfa, mfa_user):
    assert client_mfa.get("/start/")["Location"] == reverse("ias:consent")


def test_revoked_consent_stops_new_queries(client_mfa, mfa_user, network):
    from accounts.services import consent_revoke

    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    consent_revoke(user=mfa_user, ip=None)
    client_mfa.post(reverse("ias:sources"), {"hie": "on"})
    assert network.calls_to("POST", "/medical/v1/network/query") == []


def test_export_has_no_secrets(mfa_user, network, no_enqueue):
    from ias import queries
    from ias.network import SourceChoice

    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    queries.network_query_start(user=mfa_user, sources=SourceChoice())
    export = selectors.ias_export_for(user_id=mfa_user.pk)
    text = str(export)
    assert export["patient"]["network_patient_id"] == "pat_1"
    assert len(export["queries"]) == 1
    assert "aal2_ok" not in text
    assert "https://" not in text.replace(export["network"], "")
