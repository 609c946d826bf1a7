"""A lab panel lists its results and nothing else. A Provenance's `parent_ref` is its target, so a
Provenance about a panel (as HL7v2 and C-CDA converters write one per report) was listed as one of
the panel's results, on the labs page and on the panel's own page."""

import pytest
from django.urls import reverse

from records import selectors
from records.models import Resource
from tests.records.conftest import ingest_bundle
from tests.records.converter_shapes import bundle, observation, organization


def _provenance(rid: str, target: str) -> dict:
    return {
        "resourceType": "Provenance",
        "id": rid,
        "target": [{"reference": target}],
        "recorded": "2012-08-15T10:00:00.000Z",
        "agent": [{"who": {"reference": "Organization/org-lab"}}],
    }


def _record() -> dict:
    hemoglobin = observation("obs-hgb", loinc="718-7", display="Hemoglobin", value=13.9, unit="g/dL")
    lipids = observation("obs-lipids", loinc="57698-3", display="Lipid panel")
    lipids["hasMember"] = [{"reference": "Observation/obs-ldl"}]
    ldl = observation("obs-ldl", loinc="13457-7", display="LDL cholesterol", value=96, unit="mg/dL")
    a1c = observation("obs-a1c", loinc="4548-4", display="Hemoglobin A1c", value=5.4, unit="%")
    report = {
        "resourceType": "DiagnosticReport",
        "id": "dr-panel",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": {"text": "Annual blood work"},
        "effectiveDateTime": "2012-08-15T09:00:00.000Z",
        "result": [{"reference": "Observation/obs-hgb"}, {"reference": "Observation/obs-lipids"}],
    }
    return bundle(
        organization("org-lab", "Riverside Laboratory"),
        report,
        hemoglobin,
        lipids,
        ldl,
        a1c,
        _provenance("prov-report", "DiagnosticReport/dr-panel"),
        _provenance("prov-lipids", "Observation/obs-lipids"),
        _provenance("prov-a1c", "Observation/obs-a1c"),
        # Converters that write one per resource name the target by its entry's fullUrl.
        _provenance("prov-hgb", "urn:uuid:obs-hgb"),
    )


@pytest.fixture
def person(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, _record())
    return mfa_user


def _names(items) -> dict[str, list]:
    """Each row's resource id, with its results (and theirs) beneath it."""
    return {item.resource.resource_id: sorted(_nested(child) for child in item.children) for item in items}


def _nested(item) -> tuple[str, dict]:
    return item.resource.resource_id, _names(item.children)


@pytest.mark.django_db
def test_a_panel_on_the_labs_list_holds_its_results_only(person):
    listing = selectors.category_list(user=person, category="labs")

    assert _names(listing.items) == {
        "dr-panel": [("obs-hgb", {}), ("obs-lipids", {"obs-ldl": []})],
        "obs-a1c": [],
    }


@pytest.mark.django_db
def test_no_provenance_is_shown_as_a_result(person, make_mfa_client):
    client = make_mfa_client(person)
    provenance_links = [
        reverse("records:item", args=[pk])
        for pk in Resource.objects.filter(user=person, resource_type="Provenance").values_list("pk", flat=True)
    ]
    assert len(provenance_links) == 4
    report = Resource.objects.get(user=person, resource_id="dr-panel")
    lipids = Resource.objects.get(user=person, resource_id="obs-lipids")

    for url in (
        reverse("records:category", args=["labs"]),
        reverse("records:item", args=[report.pk]),
        reverse("records:item", args=[lipids.pk]),
    ):
        page = client.get(url).content.decode()
        assert not [link for link in provenance_links if f'href="{link}"' in page], url

    report_page = selectors.resource_detail(user=person, pk=report.pk)
    assert _names(report_page.children) == {"obs-hgb": [], "obs-lipids": [("obs-ldl", {})]}
    # The Provenance still says where the panel came from.
    assert [p["id"] for p in report_page.provenances] == ["prov-report"]
    lipids_page = selectors.resource_detail(user=person, pk=lipids.pk)
    assert [child.resource.resource_id for child in lipids_page.children] == ["obs-ldl"]


@pytest.mark.django_db
def test_a_panel_inside_a_panel_shows_its_results_on_the_labs_page(person, make_mfa_client):
    """The lipid panel inside the report holds the LDL: the labs page draws it under the lipid
    panel's row, with its value (it was attached to the row but never drawn)."""
    page = make_mfa_client(person).get(reverse("records:category", args=["labs"])).content.decode()
    lipids = Resource.objects.get(user=person, resource_id="obs-lipids")
    ldl = Resource.objects.get(user=person, resource_id="obs-ldl")

    lipids_row = page.index(f'href="{reverse("records:item", args=[lipids.pk])}"')
    members = page.index('<ul class="record-list record-list--members">', lipids_row)
    ldl_row = page.index(f'href="{reverse("records:item", args=[ldl.pk])}"')
    assert lipids_row < members < ldl_row < page.index("</ul>", members)
    assert "96 mg/dL" in page[ldl_row : page.index("</li>", ldl_row)]
