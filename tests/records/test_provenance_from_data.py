""" "Delivered via" comes from what each resource says about itself, never from the webhook that
carried the bundle (every network-query webhook links the whole consolidated record)."""

import pytest
from django.urls import reverse

from records import fhir
from records.models import Resource
from tests.records.conftest import ingest_bundle
from tests.records.converter_shapes import (
    bundle,
    data_source_extension,
    doc_id_extension,
    network_tag,
    observation,
    organization,
)


def _hospital_bundle() -> dict:
    org = organization("org-h", "Riverside Community Hospital")
    tagged = observation(
        "obs-hie", loinc="2160-0", display="Creatinine", value=1.1, unit="mg/dL", meta=network_tag("hie")
    )
    tagged["performer"] = [{"reference": "Organization/org-h"}]
    untagged = observation("obs-plain", loinc="2823-3", display="Potassium", value=4.1, unit="mmol/L")
    converted = observation(
        "obs-doc",
        loinc="33914-3",
        display="eGFR",
        value=58,
        unit="mL/min/{1.73_m2}",
        extension=[doc_id_extension(), data_source_extension("CAREQUALITY")],
    )
    return bundle(org, tagged, untagged, converted)


@pytest.fixture
def pharmacy_delivered(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, _hospital_bundle(), network_source="pharmacy")
    return mfa_user


def _row(user, rid: str) -> Resource:
    return Resource.objects.get(user=user, resource_id=rid)


@pytest.mark.django_db
def test_rows_take_the_network_source_from_the_resource_not_the_webhook(pharmacy_delivered):
    assert _row(pharmacy_delivered, "obs-hie").network_source == "hie"
    assert _row(pharmacy_delivered, "obs-plain").network_source == ""
    assert _row(pharmacy_delivered, "obs-doc").network_source == "hie"  # Carequality document


@pytest.mark.django_db
def test_item_tagged_hie_never_says_pharmacy(pharmacy_delivered, make_mfa_client):
    client = make_mfa_client(pharmacy_delivered)
    page = client.get(reverse("records:item", args=[_row(pharmacy_delivered, "obs-hie").pk])).content.decode()
    assert "via health information exchange" in page
    assert "pharmacy" not in page
    assert "Riverside Community Hospital" in page


@pytest.mark.django_db
def test_untagged_item_says_nothing_about_delivery(pharmacy_delivered, make_mfa_client):
    client = make_mfa_client(pharmacy_delivered)
    page = client.get(reverse("records:item", args=[_row(pharmacy_delivered, "obs-plain").pk])).content.decode()
    assert "Delivered" not in page
    assert "via pharmacy" not in page
    listing = client.get(reverse("records:category", args=["labs"])).content.decode()
    assert "via pharmacy" not in listing


@pytest.mark.django_db
def test_reingest_by_another_webhook_keeps_the_resources_own_source(pharmacy_delivered):
    ingest_bundle(pharmacy_delivered, _hospital_bundle(), network_source="lab", request_id="req-2")
    assert _row(pharmacy_delivered, "obs-hie").network_source == "hie"
    assert _row(pharmacy_delivered, "obs-plain").network_source == ""


@pytest.mark.django_db
def test_each_item_lists_every_organization_that_reported_it(mfa_user, private_storage_dir, make_mfa_client):
    first = observation("a1", loinc="4548-4", display="Hemoglobin A1c", value=7.2, unit="%", meta=network_tag("lab"))
    first["performer"] = [{"reference": "Organization/lab"}]
    second = observation("a2", loinc="4548-4", display="Hemoglobin A1c", value=7.2, unit="%", meta=network_tag("hie"))
    second["performer"] = [{"reference": "Organization/clinic"}]
    ingest_bundle(
        mfa_user,
        bundle(organization("lab", "Northstar Labs"), organization("clinic", "Lakeside Clinic"), first, second),
        network_source="pharmacy",
    )
    client = make_mfa_client(mfa_user)
    page = client.get(reverse("records:item", args=[_row(mfa_user, "a1").pk])).content.decode()
    assert "Northstar Labs" in page and "Lakeside Clinic" in page
    assert "pharmacy" not in page


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"meta": network_tag("pharmacy")}, "pharmacy"),
        ({"meta": {"tag": [{"system": "http://other.example/tags", "code": "hie"}]}}, ""),
        ({"extension": [data_source_extension("COMMONWELL")]}, "hie"),
        ({"extension": [data_source_extension("METRIPORT")]}, ""),
        ({"content": [{"extension": [data_source_extension("CAREQUALITY")]}]}, "hie"),
        ({"meta": {"source": "Organization/x"}}, ""),
        ("not a resource", ""),
    ],
)
def test_resource_network_source(resource, expected):
    assert fhir.resource_network_source(resource) == expected


@pytest.mark.django_db
def test_migration_rederives_the_source_of_rows_stored_with_the_webhooks(mfa_user):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("records.migrations.0007_network_source_from_resource")
    tagged = Resource.objects.create(
        user=mfa_user,
        resource_type="Observation",
        resource_id="t",
        raw={"meta": network_tag("hie")},
        content_hash="x",
        network_source="pharmacy",
    )
    untagged = Resource.objects.create(
        user=mfa_user, resource_type="Observation", resource_id="u", raw={}, content_hash="y", network_source="pharmacy"
    )
    migration.network_source_from_resource(apps, None)
    tagged.refresh_from_db()
    untagged.refresh_from_db()
    assert (tagged.network_source, untagged.network_source) == ("hie", "")


@pytest.mark.django_db
def test_converted_resource_takes_the_source_of_its_document(mfa_user, private_storage_dir, make_mfa_client):
    """A resource converted from a C-CDA names its document (doc-id extension); the document names the HIE."""
    document = {
        "resourceType": "DocumentReference",
        "id": "doc-42",
        "status": "current",
        "content": [
            {
                "extension": [data_source_extension("COMMONWELL")],
                "attachment": {"url": "https://files.example/cx/pt/cx_pt_doc-42.xml", "contentType": "text/xml"},
            }
        ],
    }
    converted = observation(
        "obs-from-doc",
        loinc="2345-7",
        display="Glucose",
        value=104,
        unit="mg/dL",
        extension=[doc_id_extension("cx/pt/cx_pt_doc-42.xml.json")],
    )
    stray = observation(
        "obs-other-doc", loinc="2345-7", display="Glucose", value=99, unit="mg/dL", extension=[doc_id_extension()]
    )
    ingest_bundle(mfa_user, bundle(document, converted, stray), network_source="pharmacy")
    assert _row(mfa_user, "obs-from-doc").network_source == "hie"
    assert _row(mfa_user, "obs-other-doc").network_source == ""
    page = make_mfa_client(mfa_user).get(reverse("records:item", args=[_row(mfa_user, "obs-from-doc").pk]))
    assert "via health information exchange" in page.content.decode()
