"""'What is this?' on an item: MedlinePlus's topics in the person's language, a plain fallback, logged."""

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AccessLogEntry
from records import explanations, medlineplus
from records.models import Resource
from tests.records.conftest import ingest_bundle

DIABETES = {
    "resourceType": "Condition",
    "id": "cond-dm",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]},
}
SMOKING = {"resourceType": "Observation", "id": "obs-smoke", "status": "final", "code": {"text": "Smoking status"}}


def sandbox_transport() -> httpx.MockTransport:
    """MedlinePlus answered by the sandbox's stand-in, through Django's test client."""

    def handler(request: httpx.Request) -> httpx.Response:
        answer = Client().get("/sandbox/medlineplus/service", dict(request.url.params))
        return httpx.Response(answer.status_code, content=answer.content)

    return httpx.MockTransport(handler)


@pytest.fixture
def items(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, {"resourceType": "Bundle", "entry": [{"resource": DIABETES}, {"resource": SMOKING}]})
    return {r.resource_id: r for r in Resource.objects.filter(user=mfa_user)}


@pytest.fixture
def via_sandbox(monkeypatch):
    real = medlineplus.topics_fetch

    def fetch(**kwargs):
        kwargs["transport"] = sandbox_transport()
        return real(**kwargs)

    monkeypatch.setattr(medlineplus, "topics_fetch", fetch)


def test_a_coded_item_offers_what_is_this_and_a_text_only_one_does_not(client_mfa, items):
    coded = client_mfa.get(reverse("records:item", args=[items["cond-dm"].pk]))
    assert reverse("records:explain", args=[items["cond-dm"].pk]) in coded.content.decode()
    plain = client_mfa.get(reverse("records:item", args=[items["obs-smoke"].pk]))
    assert "What is this?" not in plain.content.decode()


def test_the_explanation_shows_medlineplus_topics_and_is_logged(client_mfa, mfa_user, items, via_sandbox):
    response = client_mfa.get(reverse("records:explain", args=[items["cond-dm"].pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Type 2 Diabetes" in body and "https://medlineplus.gov/diabetestype2.html" in body
    assert "National Library of Medicine" in body
    assert AccessLogEntry.objects.filter(subject=mfa_user, action="records:explain").count() == 1


def test_the_page_asks_in_the_active_language(client_mfa, items, via_sandbox, monkeypatch):
    monkeypatch.setattr("records.views.translation.get_language", lambda: "es")
    body = client_mfa.get(reverse("records:explain", args=[items["cond-dm"].pk])).content.decode()
    assert "Diabetes tipo 2" in body and "https://medlineplus.gov/spanish/diabetestype2.html" in body


def test_an_unreachable_service_is_a_sentence_and_a_retry_not_an_error(client_mfa, items, monkeypatch):
    def refuse(**kwargs):
        raise medlineplus.Unavailable("down")

    monkeypatch.setattr(medlineplus, "topics_fetch", refuse)
    response = client_mfa.get(reverse("records:explain", args=[items["cond-dm"].pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "did not answer just now" in body and "Try again" in body


def test_switched_off_it_says_so_and_the_item_page_hides_the_link(client_mfa, items):
    explanations.explanation_setting_save(enabled=False)
    item = client_mfa.get(reverse("records:item", args=[items["cond-dm"].pk])).content.decode()
    assert "What is this?" not in item
    page = client_mfa.get(reverse("records:explain", args=[items["cond-dm"].pk])).content.decode()
    assert "switched off" in page


def test_another_persons_item_is_not_found(other_user_client_mfa, items):
    response = other_user_client_mfa.get(reverse("records:explain", args=[items["cond-dm"].pk]))
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_over_real_http_to_the_sandbox(live_server, settings, client_mfa, items):
    settings.MEDLINEPLUS_CONNECT_URL = f"{live_server.url}/sandbox/medlineplus/service"
    response = client_mfa.get(reverse("records:explain", args=[items["cond-dm"].pk]))
    assert "Type 2 Diabetes" in response.content.decode()
