"""The journey with both networks enabled in the sandbox, in a real browser with a real worker: one
search asks Metriport and Particle, the progress page shows each side by side until both records are
saved, and the record shows an item reported through both. Screenshots at desktop and 390 px."""

import re

import pytest
from playwright.sync_api import expect

from tests.ias.browser_journey import walk_to_sources

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def both_on_live_server(live_server, settings, portal_on_live_server):
    """Particle too, the sandbox's, over real HTTP; the worker is told the same."""
    base = live_server.url
    particle = {
        "HOMEPORT_NETWORKS": "metriport,particle",
        "PARTICLE_PURPOSE_OF_USE": "TREATMENT",
        "PARTICLE_BASE_URL": f"{base}/sandbox/particle",
        "SANDBOX_PARTICLE_WEBHOOK_URL": f"{base}/webhooks/particle/",
        "SANDBOX_PARTICLE_QUERY_DELAY_SECONDS": "3",
        "SANDBOX_PARTICLE_STATUS_404_SECONDS": "0",
    }
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = "TREATMENT"
    settings.PARTICLE_BASE_URL = particle["PARTICLE_BASE_URL"]
    settings.SANDBOX_PARTICLE_WEBHOOK_URL = particle["SANDBOX_PARTICLE_WEBHOOK_URL"]
    settings.SANDBOX_PARTICLE_QUERY_DELAY_SECONDS = 3.0
    settings.SANDBOX_PARTICLE_STATUS_404_SECONDS = 0.0
    return {**portal_on_live_server, **particle}


def test_one_journey_two_networks_one_record(browser, live_server, both_on_live_server, start_worker, screenshot_dir):
    worker = start_worker(both_on_live_server)
    page = browser
    base = live_server.url

    def shot(name):
        page.screenshot(path=screenshot_dir / f"two-networks-{name}.png", full_page=True)

    walk_to_sources(page, base, shot)
    page.get_by_role("button", name="Search for my records").click()
    page.wait_for_url(re.compile(r"/journey/search/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name=re.compile("At Metriport"))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("At Particle"))).to_be_visible()
    shot("progress-running")
    try:
        page.get_by_role("link", name="Read my record").wait_for(timeout=120_000)
    except Exception:
        shot("progress-stuck")
        print(worker.log()[-6000:])
        raise
    metriport = page.locator('[data-network="metriport"] tr[data-source]')
    particle = page.locator('[data-network="particle"] tr[data-source]')
    assert metriport.count() == 3 and particle.count() == 1
    assert particle.first.get_attribute("data-records") in ("fetched", "skipped")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(f"progress-done-{width}")

    from ias.models import NetworkQuery

    assert set(NetworkQuery.objects.filter(kind="network").values_list("network", "status")) == {
        ("metriport", "completed"),
        ("particle", "completed"),
    }
    page.set_viewport_size({"width": 1280, "height": 900})
    for path in ("/records/labs/", "/records/conditions/", "/records/medications/", "/records/allergies/"):
        page.goto(f"{base}{path}")
        if "via Metriport and via Particle" in page.locator("main").inner_text():
            break
    else:
        raise AssertionError("no item in the record says it came via Metriport and via Particle")
    shot("record-merged")
