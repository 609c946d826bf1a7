"""FHIR text carrying HTML or script is shown escaped on every records page (and every page of the
journey that may show record data): ingest a hostile bundle for the person, then open each page."""

import pytest
from django.urls import reverse

from tests.security.bundles import IMG, SCRIPT, ingest_for, person_bundle
from tests.security.urlwalk import REGISTRY, all_routes, url_for

pytestmark = pytest.mark.django_db

PAGES = sorted(
    (r for r in all_routes() if r.namespace == "records" or r.name in ("home", "account", "ias:progress")),
    key=lambda r: r.name,
)
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def hostile_person(mfa_user, tmp_path):
    ingest_for(user_id=mfa_user.pk, bundle=person_bundle(label="Hostile", hostile=True), tmp_path=tmp_path)
    return mfa_user


def _urls(route, owner, tmp_path) -> list[str]:
    if route.name == "records:category":
        from records.fhir import CATEGORY_LABELS

        return [reverse(route.name, kwargs={"category": slug}) for slug in CATEGORY_LABELS]
    if route.takes_id:
        return [reverse(route.name, kwargs=REGISTRY.id_cases[route.name].make(owner, tmp_path))]
    url = url_for(route)
    assert url is not None
    return [url]


def _is_html(response) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def test_records_has_pages_to_attack():
    assert any(route.namespace == "records" for route in PAGES)


@pytest.mark.parametrize("route", PAGES, ids=str)
def test_page_never_carries_live_markup_from_the_record(route, hostile_person, make_mfa_client, tmp_path):
    client = make_mfa_client(hostile_person)
    for url in _urls(route, hostile_person, tmp_path):
        response = client.get(url)
        assert response.status_code in (200, 302, 405), (url, response.status_code)
        if response.status_code == 200 and not _is_html(response):
            # JSON, PDF or a file: the browser must never render it as a page of ours.
            assert response.get("X-Content-Type-Options") == "nosniff", url
            assert "html" not in response.get("Content-Type", ""), url
            assert "svg" not in response.get("Content-Type", ""), url
            continue
        body = b"".join(response.streaming_content) if response.streaming else response.content
        body = body.decode(errors="replace")
        assert SCRIPT not in body, url
        assert IMG not in body, url
        assert "<img src=x" not in body.lower(), url


def test_the_hostile_text_is_shown_escaped_somewhere(hostile_person, make_mfa_client, tmp_path):
    """Proves the pages show the record at all: the text is there, as text."""
    client = make_mfa_client(hostile_person)
    bodies = []
    for route in PAGES:
        if route.namespace != "records":
            continue
        for url in _urls(route, hostile_person, tmp_path):
            response = client.get(url)
            if response.status_code == 200 and _is_html(response):
                bodies.append(response.content.decode(errors="replace"))
    assert any(ESCAPED in body for body in bodies), "no records page shows the (escaped) hostile name"


def test_hostile_html_document_is_a_download_not_a_page(hostile_person, make_mfa_client, tmp_path):
    """A DocumentReference carrying text/html with a script is handed out as an attachment."""
    kwargs = REGISTRY.id_cases["records:document"].make(hostile_person, tmp_path)
    response = make_mfa_client(hostile_person).get(reverse("records:document", kwargs=kwargs))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert not _is_html(response)
    assert response["X-Content-Type-Options"] == "nosniff"
