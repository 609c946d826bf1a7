"""Every outcome has a next step: no records, identity failed (reason, limit, support), a failed source."""

import pytest
from django.urls import reverse

from ias import identity, queries
from ias.errors import JourneyError
from ias.models import Aal2Challenge, IdentityVerification, NetworkQuery
from ias.network import SourceChoice
from tests.ias.conftest import aal2_passed, linked, saved_snapshot, verified
from tests.ias.fakes import envelope, source_event
from tests.ias.helpers import deliver

pytestmark = pytest.mark.django_db

DETAILS = {
    "first_name": "Pat",
    "last_name": "Norecords",
    "dob": "1980-04-23",
    "gender_at_birth": "F",
    "address_line1": "1 Main St",
    "city": "Boston",
    "state": "MA",
    "zip": "02139",
}


def search(user, sources=("hie", "pharmacy")):
    aal2_passed(user)
    return queries.network_query_start(
        user=user, sources=SourceChoice(**{s: s in sources for s in ("hie", "pharmacy", "lab")})
    )


def test_no_records_explains_and_offers_to_check_the_details(client_mfa, mfa_user, network, monkeypatch, no_enqueue):
    verified(mfa_user, "pat_1")
    monkeypatch.setattr("ias.delivery.records_ingest_from_url", lambda **kw: saved_snapshot(Patient=1))
    query = search(mfa_user)
    for source in ("hie", "pharmacy"):
        deliver(source_event(source, patient_id="pat_1", request_id=query.request_id))
    page = client_mfa.get(reverse("ias:progress", args=[query.public_id])).content.decode()
    assert "No records were found." in page
    assert "a former last name, a previous address" in page
    assert f'href="{reverse("ias:demographics")}"' in page
    assert "Read my record" not in page
    record = client_mfa.get(reverse("records:summary")).content.decode()
    assert "found no records." in record and "Check my details and search again" in record
    # Saving corrected details leads straight to the security check for a new search.
    response = client_mfa.post(reverse("ias:demographics"), {**DETAILS, "last_name": "Norecords-Smith"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ias:aal2")


def test_identity_failure_shows_the_networks_reason_and_what_to_try(client_mfa, mfa_user, network, no_enqueue):
    linked(mfa_user, "pat_1")
    session = identity.identity_session_start(user=mfa_user)
    deliver(
        envelope(
            "ias.identity.failed",
            payload={
                "patientId": "pat_1",
                "sessionId": session.session_id,
                "status": "failed",
                "reason": "The name on the ID did not match.\x00<script>x</script>",
            },
        )
    )
    session.refresh_from_db()
    assert session.failure_reason == "The name on the ID did not match. <script>x</script>"
    page = client_mfa.get(reverse("ias:identity_wait")).content.decode()
    assert "The name on the ID did not match." in page
    assert "<script>x</script>" not in page  # escaped
    assert "photo ID" in page
    assert "2 tries left" in page
    assert page.count("did not succeed") == 1
    assert "data-ias-identity-status" not in page  # a finished check does not keep reloading the page


def test_identity_retries_are_limited_then_support_is_named(client_mfa, mfa_user, network, no_enqueue, settings):
    settings.SUPPORT_EMAIL = "help@homeport.example.org"
    linked(mfa_user, "pat_1")
    for n in range(identity.IDENTITY_MAX_ATTEMPTS):
        IdentityVerification.objects.create(user=mfa_user, session_id=f"ids_{n}", status="failed")
    with pytest.raises(JourneyError, match=r"help@homeport\.example\.org"):
        identity.identity_session_start(user=mfa_user)
    page = client_mfa.get(reverse("ias:identity")).content.decode()
    assert "Try the identity check again" not in page
    assert "mailto:help@homeport.example.org" in page
    response = client_mfa.post(reverse("ias:identity"))
    assert response.status_code == 302
    assert network.calls_to("POST", "/medical/v1/identity/session") == []


def test_the_record_page_explains_that_identity_comes_first(client_mfa, mfa_user):
    linked(mfa_user, "pat_1")
    IdentityVerification.objects.create(user=mfa_user, session_id="ids_x", status="failed")
    page = client_mfa.get(reverse("records:summary")).content.decode()
    assert "Your identity check did not succeed, so no records could be requested yet." in page
    assert f'href="{reverse("ias:identity")}"' in page


def test_a_failed_source_can_be_asked_again_alone(client_mfa, mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = search(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    deliver(source_event("pharmacy", patient_id="pat_1", request_id=query.request_id, status="failed", url=""))
    page = client_mfa.get(reverse("ias:progress", args=[query.public_id])).content.decode()
    assert "Some of your records are saved." in page
    assert "Ask pharmacies again" in page

    response = client_mfa.post(reverse("ias:source_retry", args=[query.public_id]), {"source": "pharmacy"})
    assert response["Location"] == reverse("ias:aal2")
    # The new security check, then straight to a search of the pharmacy alone.
    client_mfa.post(reverse("ias:aal2"))
    challenge = Aal2Challenge.objects.filter(user=mfa_user, status="pending").get()
    back = client_mfa.get(
        reverse("ias:aal2_return", args=[challenge.state]) + "?aal2SessionId=aal2_retry&status=verified"
    )
    retry = NetworkQuery.objects.filter(user=mfa_user, kind="network").order_by("-created_at").first()
    assert retry is not None
    assert retry.pk != query.pk
    assert back["Location"] == reverse("ias:progress", args=[retry.public_id])
    assert list(retry.sources.values_list("source_type", flat=True)) == ["pharmacy"]
    sent = network.calls_to("POST", "/medical/v1/network/query")[-1]
    assert sent[4]["x-aal2-session"] == "aal2_retry"


def test_another_persons_search_cannot_be_retried(client_mfa, other_user, network, ingested, no_enqueue):
    verified(other_user, "pat_2")
    query = search(other_user)
    response = client_mfa.post(reverse("ias:source_retry", args=[query.public_id]), {"source": "hie"})
    assert response.status_code == 404
