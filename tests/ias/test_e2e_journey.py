"""The whole journey in a real browser, against the sandbox over real HTTP, with a real Celery worker:
sign up, MFA, consent, details, identity, AAL2, query, and the progress page showing every source done."""

import re

import pytest
from playwright.sync_api import expect

from tests.ias.browser_journey import walk_to_sources

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_whole_journey_in_a_browser(browser, live_server, portal_on_live_server, start_worker, screenshot_dir):
    worker = start_worker(portal_on_live_server)
    page = browser
    base = live_server.url

    def shot(name):
        page.screenshot(path=screenshot_dir / f"ias-{name}.png", full_page=True)

    walk_to_sources(page, base, shot)

    # 6. Sources, then the live progress page.
    shot("06-sources")
    page.get_by_role("button", name="Search for my records").click()
    page.wait_for_url(re.compile(r"/journey/search/[0-9a-f-]{36}/$"))
    shot("07-progress-running")
    try:
        expect(page.locator('tr[data-source][data-status="completed"]')).to_have_count(3, timeout=90_000)
    except Exception:
        shot("07-progress-stuck")
        print(worker.log()[-6000:])
        raise
    page.get_by_role("link", name="Read my record").wait_for()
    shot("08-progress-done")
    rows = page.locator("tr[data-source]")
    assert rows.count() == 3
    assert sorted(rows.nth(i).get_attribute("data-source") for i in range(3)) == ["hie", "lab", "pharmacy"]

    from ias.models import NetworkQuery, WebhookEvent

    query = NetworkQuery.objects.get(kind="network")
    assert query.status == "completed"
    assert set(query.sources.values_list("records", flat=True)) <= {"fetched", "skipped"}
    assert not WebhookEvent.objects.filter(status="failed").exists()
    from records.models import Snapshot

    assert Snapshot.objects.filter(user=query.user).exists()

    # 7. A converted C-CDA the network holds (a link, no inline data) reads as a page of sections.
    from records.models import Resource

    linked = next(
        r
        for r in Resource.objects.filter(user=query.user, resource_type="DocumentReference").order_by("pk")
        if r.raw["content"][0]["attachment"].get("contentType") == "text/xml"
        and "data" not in r.raw["content"][0]["attachment"]
    )
    page.goto(f"{base}/records/item/{linked.pk}/document/0/read/")
    expect(page.get_by_role("heading", name="Allergies and Adverse Reactions")).to_be_visible()
    shot("09-ccda-from-the-network")
