"""A record with fields of the wrong JSON type here and there opens everywhere: every list page, every
item, its trend and source documents, and every download. A person never meets an error page
because a partner sent a number where a list belongs."""

import pytest
from django.urls import reverse

from records.models import Resource
from tests.records.conftest import ingest_bundle
from tests.records.scrambled import scrambled_bundle
from tests.records.test_pages import LIST_PAGES

pytestmark = pytest.mark.django_db

DOWNLOADS = ("records:download_bundle", "records:download_ndjson", "records:summary_pdf")


@pytest.fixture(params=[("converted", 1), ("mixed", 2), ("clean", 3)], ids=lambda p: f"{p[0]}-{p[1]}")
def scrambled_owner(request, mfa_user, private_storage_dir):
    shape, seed = request.param
    ingest_bundle(mfa_user, scrambled_bundle(shape, seed=seed, size=200))
    return mfa_user


def _failures(client, urls):
    failed = []
    for url in urls:
        try:
            response = client.get(url)
        except Exception as exc:  # the test client raises what the view raised
            failed.append((url, type(exc).__name__))
            continue
        if response.status_code == 302 and "/document/" in url:
            # A document Homeport cannot show sends the person back to its item, with a message.
            if not response["Location"].startswith(url.split("document/")[0]):
                failed.append((url, response["Location"]))
        elif response.status_code not in (200, 404):
            failed.append((url, response.status_code))
        elif response.status_code == 200 and response.streaming:
            try:
                b"".join(response.streaming_content)
            except Exception as exc:
                failed.append((url, type(exc).__name__))
    return failed


def test_every_page_item_and_download_opens(scrambled_owner, client_mfa):
    urls = [reverse(name, args=args) for name, args in LIST_PAGES]
    urls += [reverse(name) for name in DOWNLOADS]
    items = Resource.objects.filter(user=scrambled_owner).values_list("pk", "resource_type")
    for pk, kind in items:
        urls.append(reverse("records:item", args=[pk]))
        if kind == "Observation":
            urls.append(reverse("records:trend", args=[pk]))
        if kind == "DocumentReference":
            urls.append(reverse("records:document", args=[pk, 0]))
    assert _failures(client_mfa, urls) == []
