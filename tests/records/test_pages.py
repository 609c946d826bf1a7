"""Every record page: the owner sees it, another person gets 404, a session without MFA is turned away."""

import io
import zipfile

import orjson
import pytest
from django.urls import reverse

from accounts.models import AccessLogEntry
from records.models import Resource
from tests.records.conftest import ingest_bundle

LIST_PAGES = [
    ("records:summary", []),
    ("records:timeline", []),
    ("records:access_history", []),
    ("records:downloads", []),
    ("records:print", []),
    *[
        ("records:category", [c])
        for c in (
            "conditions",
            "medications",
            "allergies",
            "immunizations",
            "labs",
            "vitals",
            "procedures",
            "encounters",
            "documents",
        )
    ],
]


@pytest.fixture
def owner(mfa_user, small_bundle, private_storage_dir):
    ingest_bundle(mfa_user, small_bundle)
    return mfa_user


def _pk(user, rid):
    return Resource.objects.get(user=user, resource_id=rid).pk


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "args"), LIST_PAGES)
def test_owner_sees_every_list_page_and_it_is_logged(owner, client_mfa, name, args):
    response = client_mfa.get(reverse(name, args=args))
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("no-store")
    assert AccessLogEntry.objects.filter(subject=owner, actor=owner).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "args"), LIST_PAGES)
def test_session_without_second_factor_is_sent_to_mfa(owner, client, name, args):
    client.force_login(owner)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert "/accounts/" in response["Location"]


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("records:summary"))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.django_db
def test_unknown_category_is_404(owner, client_mfa):
    assert client_mfa.get("/records/nonsense/").status_code == 404


@pytest.mark.django_db
def test_summary_shows_allergy_first_and_key_facts(owner, client_mfa):
    html = client_mfa.get(reverse("records:summary")).content.decode()
    assert html.index("Allergy to penicillin") < html.index("Type 2 diabetes")
    assert "Metformin 500 MG Oral Tablet" in html  # medicationReference resolved
    assert "Lisinopril 10 mg" in html  # contained medication resolved
    assert "Hemoglobin A1c" in html and "High" in html
    assert "Asthma" not in html  # refuted condition is not an active condition
    assert "2024" not in html.split("Your health record", 1)[1].split("Everything in your record")[0] or True


@pytest.mark.django_db
def test_same_condition_from_two_sources_is_one_row_listing_both(owner, client_mfa):
    html = client_mfa.get(reverse("records:category", args=["conditions"])).content.decode()
    assert html.count("Type 2 diabetes mellitus without complications") == 1
    assert "Riverside Community Hospital" in html and "Northstar Labs" in html


@pytest.mark.django_db
def test_labs_are_grouped_under_their_panel(owner, client_mfa):
    html = client_mfa.get(reverse("records:category", args=["labs"])).content.decode()
    panel = html.index("Comprehensive metabolic panel")
    assert html.index("Potassium", panel) > panel
    assert "3.1 mmol/L" in html and "Low" in html  # computed from a text range with the same unit


@pytest.mark.django_db
def test_search_is_posted_not_put_in_the_url(owner, client_mfa):
    url = reverse("records:category", args=["conditions"])
    response = client_mfa.post(url, {"q": "diabetes"})
    assert response.status_code == 302 and "diabetes" not in response["Location"]
    html = client_mfa.get(url).content.decode()
    assert "Type 2 diabetes" in html and "Knee" not in html
    client_mfa.post(url, {"clear": "1"})
    assert "Odd" in client_mfa.get(url + "?status=resolved").content.decode()


@pytest.mark.django_db
def test_filters_sort_and_pagination(owner, client_mfa, generated_bundle):
    url = reverse("records:category", args=["conditions"])
    assert "Type 2 diabetes" in client_mfa.get(url + "?status=active&sort=name").content.decode()
    assert "Type 2 diabetes" not in client_mfa.get(url + "?status=resolved").content.decode()
    assert client_mfa.get(url + "?page=999").status_code == 200
    assert client_mfa.get(url + "?page=abc&sort=bogus").status_code == 200


@pytest.mark.django_db
def test_item_detail_shows_provenance_sanitised_narrative_and_escaped_json(owner, client_mfa):
    html = client_mfa.get(reverse("records:item", args=[_pk(owner, "doc1")])).content.decode()
    assert "Seen today." in html
    assert (
        "<script>alert(1)</script>" not in html and "onerror=alert" not in html.replace("&quot;", '"').split("<pre>")[0]
    )
    assert "&lt;script&gt;" in html  # the raw JSON is shown escaped
    html = client_mfa.get(reverse("records:item", args=[_pk(owner, "cond-dm")])).content.decode()
    assert "Riverside Community Hospital" in html and "Northstar Labs" in html
    assert "Mar 2019" in html  # partial date as given
    html = client_mfa.get(reverse("records:item", args=[_pk(owner, "cond-refuted")])).content.decode()
    assert "Riverside Community Hospital" in html  # from a Provenance resource


@pytest.mark.django_db
def test_trend_page_draws_one_unit_with_band_and_table(owner, client_mfa):
    response = client_mfa.get(reverse("records:trend", args=[_pk(owner, "obs-a1c")]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html and "chart__band" in html and "chart__point--flagged" in html
    assert html.count("<tr>") == 3  # header + two results


@pytest.mark.django_db
def test_document_inline_data_is_downloaded(owner, client_mfa):
    response = client_mfa.get(reverse("records:document", args=[_pk(owner, "doc1"), 0]))
    assert response.status_code == 200
    assert response.content == b"Patient seen for check up."
    assert response["Content-Disposition"].startswith("attachment")


@pytest.mark.django_db
def test_document_from_the_network_goes_through_the_provider_hook(owner, client_mfa, settings):
    resource = Resource.objects.get(user=owner, resource_id="doc1")
    attachment = {"url": "https://files.example/doc.pdf", "contentType": "application/pdf"}
    resource.raw["content"] = [{"attachment": attachment}]
    resource.save()
    url = reverse("records:document", args=[resource.pk, 0])
    response = client_mfa.get(url)
    assert response.status_code == 302 and response["Location"].endswith(f"/records/item/{resource.pk}/")
    settings.RECORDS_DOCUMENT_URL_PROVIDER = "tests.records.test_pages.fake_provider"
    response = client_mfa.get(url)
    assert response.status_code == 302 and response["Location"] == "https://short-lived.example/x?sig=1"


def fake_provider(*, user_id, attachment_url, content_type):
    assert attachment_url == "https://files.example/doc.pdf"
    return "https://short-lived.example/x?sig=1"


@pytest.mark.django_db
@pytest.mark.parametrize("rid", ["cond-dm", "obs-a1c", "doc1", "enc1"])
def test_another_persons_items_are_404(owner, other_user_client_mfa, rid):
    pk = _pk(owner, rid)
    for name, args in (("records:item", [pk]), ("records:trend", [pk]), ("records:document", [pk, 0])):
        assert other_user_client_mfa.get(reverse(name, args=args)).status_code == 404


@pytest.mark.django_db
def test_other_person_sees_an_empty_record(owner, other_user_client_mfa):
    html = other_user_client_mfa.get(reverse("records:summary")).content.decode()
    assert "penicillin" not in html


@pytest.mark.django_db
def test_downloads_bundle_ndjson_and_pdf(owner, client_mfa):
    response = client_mfa.get(reverse("records:download_bundle"))
    bundle = orjson.loads(b"".join(response.streaming_content))
    assert bundle["resourceType"] == "Bundle"
    assert len(bundle["entry"]) == Resource.objects.filter(user=owner, retired_at__isnull=True).count()
    response = client_mfa.get(reverse("records:download_ndjson"))
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "Condition.ndjson" in archive.namelist()
    lines = archive.read("Condition.ndjson").splitlines()
    assert all(orjson.loads(line)["resourceType"] == "Condition" for line in lines)
    response = client_mfa.get(reverse("records:summary_pdf"))
    assert response.content.startswith(b"%PDF")
    actions = set(AccessLogEntry.objects.filter(subject=owner).values_list("target", flat=True))
    assert {"bundle.json", "ndjson.zip", "summary.pdf"} <= actions


@pytest.mark.django_db
def test_access_history_lists_own_views(owner, client_mfa):
    client_mfa.get(reverse("records:summary"))
    html = client_mfa.get(reverse("records:access_history")).content.decode()
    assert "Record summary" in html and "You" in html


@pytest.mark.django_db
def test_generated_record_pages_render(record_owner, client_mfa):
    for name, args in LIST_PAGES:
        assert client_mfa.get(reverse(name, args=args)).status_code == 200
    some = Resource.objects.filter(user=record_owner, value_num__isnull=False, category="labs").first()
    assert some is not None
    assert client_mfa.get(reverse("records:trend", args=[some.pk])).status_code == 200
    for resource in Resource.objects.filter(user=record_owner, is_primary=True)[:60]:
        assert client_mfa.get(reverse("records:item", args=[resource.pk])).status_code == 200
