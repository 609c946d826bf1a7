"""Nothing in the record is unreachable: every resource a bundle carries is on a page a person can
reach by following links from the summary, and none is called unnamed while it carries text.

Runs over every bundle factory: the converter-shaped fixtures, the small hand-made bundle and a
sandbox generator bundle (add more factories to `BUNDLES`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from django.urls import reverse

from records import selectors
from records.models import Resource
from tests.records.conftest import ingest_bundle, load_fixture
from tests.records.fixtures.converter_shaped import BUNDLE_FACTORIES


def _generated(shape: str) -> Callable[[], dict]:
    def build() -> dict:
        from sandbox.generator import generate_bundle

        return generate_bundle(seed="reachable", size=150, shape=shape)

    return build


BUNDLES: dict[str, Callable[[], dict]] = {
    **{factory.__name__: factory for factory in BUNDLE_FACTORIES},
    "small_bundle": lambda: load_fixture("small_bundle.json"),
    **{f"generated-{shape}": _generated(shape) for shape in ("clean", "converted", "mixed")},
}
SKIPPED_LINKS = ("/document/", "/downloads/", "/trend/", "/print/", "/access/")
VALID_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
VALID_ID = re.compile(r"^[A-Za-z0-9\-.]{1,128}$")
ITEM_URL = re.compile(r"^/records/item/(\d+)/$")
PLACEHOLDERS = {"n/a", "na", "null", "none", "noknownmanifestation"}


def _crawl(client) -> dict[str, str]:
    """Every record page reachable from the summary by following links (pages of lists too)."""
    start = reverse("records:summary")
    queue, seen, pages = [start], {start}, {}
    while queue:
        url = queue.pop()
        response = client.get(url)
        assert response.status_code in (200, 302), url
        if response.status_code != 200:
            continue
        body = response.content.decode()
        pages[url] = body
        for href in re.findall(r'href="([^"#]+)"', body):
            href = html.unescape(href)
            if href.startswith("?"):
                href = url.split("?")[0] + href
            if not href.startswith("/records/") or any(part in href for part in SKIPPED_LINKS):
                continue
            if href not in seen:
                seen.add(href)
                queue.append(href)
    return pages


def _human_text(value, *, key: str = "") -> list[str]:
    """Every human-readable string of a resource: concept and note text, coding displays, titles,
    descriptions, the narrative (checked independently of the code under test)."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("meta", "identifier", "id", "resourceType", "extension"):
                continue
            if k == "div" and isinstance(v, str):
                text = re.sub(r"<[^>]+>", " ", v).strip()
                if text:
                    found.append(text)
            elif isinstance(v, str) and (k in ("text", "title", "description") or (k == "display" and key == "coding")):
                found.append(v)
            else:
                found.extend(_human_text(v, key=k))
    elif isinstance(value, list):
        for item in value:
            found.extend(_human_text(item, key=key))
    return [t for t in (s.strip() for s in found) if t and t.lower() not in PLACEHOLDERS]


def _heading(body: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", body, re.S)
    return html.unescape(match.group(1)).strip() if match else ""


@pytest.fixture(params=sorted(BUNDLES))
def ingested(request, mfa_user, private_storage_dir):
    bundle = BUNDLES[request.param]()
    ingest_bundle(mfa_user, bundle)
    return mfa_user, bundle


@pytest.mark.django_db
def test_every_resource_is_reachable_from_the_summary(ingested, client_mfa):
    owner, bundle = ingested
    pages = _crawl(client_mfa)
    reached = {int(m.group(1)) for url in pages if (m := ITEM_URL.match(url))}
    rows = {r.pk: r for r in Resource.objects.filter(user=owner, retired_at__isnull=True)}
    unreached = sorted(f"{rows[pk].reference} ({rows[pk].category})" for pk in set(rows) - reached)
    assert not unreached, f"not reachable from any page: {unreached}"
    stored = {(r.resource_type, r.resource_id) for r in rows.values()}
    for entry in bundle["entry"]:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not VALID_TYPE.match(str(resource.get("resourceType"))):
            continue  # not a resource (the small bundle holds some broken entries on purpose)
        rid = resource.get("id") if isinstance(resource.get("id"), str) else ""
        rid = rid or str(entry.get("fullUrl") or "").rsplit(":", 1)[-1]
        if VALID_ID.match(rid):
            assert (resource["resourceType"], rid) in stored, f"{resource['resourceType']}/{rid} was not stored"


@pytest.mark.django_db
def test_no_item_is_unnamed_while_it_carries_text(ingested, client_mfa):
    owner, _bundle = ingested
    pages = _crawl(client_mfa)
    for url, body in pages.items():
        assert "Unnamed item" not in body, url
    for row in Resource.objects.filter(user=owner, retired_at__isnull=True):
        body = pages.get(reverse("records:item", args=[row.pk]))
        assert body is not None, row.reference
        if _human_text(row.raw):
            name = _heading(body)
            assert "(no name given)" not in name, f"{row.reference} carries text but is shown as {name!r}"
            assert not re.fullmatch(r"(SNOMED CT|ICD-10-CM|LOINC|RxNorm|CVX) \S+", name), (row.reference, name)


@pytest.mark.django_db
def test_summary_counts_are_what_the_pages_list(ingested, client_mfa):
    owner, _bundle = ingested
    counts = selectors.category_counts(user=owner)
    summary = client_mfa.get(reverse("records:summary")).content.decode()
    for category, label in selectors.fhir.CATEGORY_LABELS.items():
        if category == "medications":
            meds = selectors.medications_reconciled(user=owner)
            listed = len(meds.current) + len(meds.past)
        else:
            listed = selectors.category_list(user=owner, category=category).total
        assert counts.get(category, 0) == listed, category
        tile = f'<span class="category-tiles__count">{listed}</span> {html.escape(label)}'
        assert tile in summary, tile
