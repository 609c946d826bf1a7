"""Names Homeport gives items that carry none ("Visit", "Document", "Ambulatory visit", "Target for …")
are stored at import in English and shown in the reader's language."""

import pytest
from django.urls import reverse
from django.utils import translation

from records import fhir
from records.models import Resource
from records.selectors import to_item
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db


def _unnamed_bundle() -> dict:
    resources: list[dict] = [
        {"resourceType": "Patient", "id": "p1", "name": [{"given": ["Ana"], "family": "Ruiz"}]},
        {"resourceType": "Encounter", "id": "visit-plain", "status": "finished", "period": {"start": "2024-02-01"}},
        {
            "resourceType": "Encounter",
            "id": "visit-kind",
            "status": "finished",
            "class": {"code": "AMB", "display": "ambulatory"},
            "period": {"start": "2024-03-01"},
        },
        {
            "resourceType": "DocumentReference",
            "id": "doc-plain",
            "status": "current",
            "date": "2024-02-01T10:00:00Z",
            "content": [{"attachment": {"contentType": "application/pdf", "url": "https://example.org/d.pdf"}}],
        },
        {
            "resourceType": "Goal",
            "id": "goal-target",
            "lifecycleStatus": "active",
            "target": [{"measure": {"text": "Weight"}}],
        },
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def _names(user) -> dict[str, str]:
    rows = Resource.objects.filter(user=user, resource_id__in=["visit-plain", "visit-kind", "doc-plain", "goal-target"])
    return {row.resource_id: to_item(row).display.name for row in rows}


ENGLISH = {
    "visit-plain": "Visit",
    "visit-kind": "Ambulatory visit",
    "doc-plain": "Document",
    "goal-target": "Target for Weight",
}
SPANISH = {
    "visit-plain": "Consulta",
    "visit-kind": "Consulta: Ambulatory",
    "doc-plain": "Documento",
    "goal-target": "Meta para Weight",
}


@pytest.mark.parametrize("import_language", ["en", "es"])
def test_fallback_names_follow_the_reader_not_the_import(mfa_user, private_storage_dir, import_language):
    with translation.override(import_language):
        ingest_bundle(mfa_user, _unnamed_bundle())
    stored = dict(Resource.objects.filter(user=mfa_user).values_list("resource_id", "display"))
    assert stored["visit-plain"] == "Visit"  # imports keep English, whatever language the request was in
    with translation.override("en"):
        assert _names(mfa_user) == ENGLISH
    with translation.override("es"):
        assert _names(mfa_user) == SPANISH


def test_a_name_from_the_record_is_kept_as_written():
    encounter = {"resourceType": "Encounter", "id": "e", "type": [{"text": "Annual physical"}]}
    with translation.override("es"):
        assert fhir.name_in_language(stored="Annual physical", resource=encounter) == "Annual physical"
        # a name found through a reference at import (nothing in the resource itself says it) is kept
        assert fhir.name_in_language(stored="Metformin 500 mg", resource={"resourceType": "MedicationRequest"}) == (
            "Metformin 500 mg"
        )


def test_record_pages_show_the_fallbacks_in_spanish(client_mfa, mfa_user, private_storage_dir):
    with translation.override("en"):
        ingest_bundle(mfa_user, _unnamed_bundle())
    visit = Resource.objects.get(user=mfa_user, resource_id="visit-plain")
    document = Resource.objects.get(user=mfa_user, resource_id="doc-plain")
    pages = {
        reverse("records:category", args=["encounters"]): ["Consulta: Ambulatory"],
        reverse("records:timeline"): ["Consulta: Ambulatory"],
        reverse("records:category", args=["documents"]): ["Documento"],
        reverse("records:item", args=[visit.pk]): ["<h1>Consulta</h1>"],
        reverse("records:item", args=[document.pk]): ["<h1>Documento</h1>"],
    }
    for url, expected in pages.items():
        page = client_mfa.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
        for words in expected:
            assert words in page, (url, words)
        for english in (">Visit<", ">Document<", "Ambulatory visit"):
            assert english not in page, (url, english)
