"""A record from two networks read in a real browser, on a desktop and a phone: the item reported by
both is one row saying so, and its page names both networks and each copy; screenshots are kept."""

import pytest
from django.test import Client

from records.models import Resource
from tests.conftest import mfa_session
from tests.records.two_networks import RIVERSIDE, ingest_from, metriport_bundle, particle_bundle


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_an_item_reported_through_both_networks_in_a_browser(
    browser, live_server, screenshot_dir, mfa_user, tmp_path, settings, width
):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    ingest_from(mfa_user, metriport_bundle(), network="metriport")
    ingest_from(mfa_user, particle_bundle(), network="particle")
    client = mfa_session(Client(), mfa_user)
    browser.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    browser.set_viewport_size({"width": width, "height": 900})

    browser.goto(f"{live_server.url}/records/labs/")
    rows = browser.locator(".record-row, .panel").filter(has_text="Hemoglobin A1c")
    assert rows.count() == 1
    assert f"Reported by {RIVERSIDE}, via Metriport and via Particle" in rows.first.inner_text()
    assert browser.evaluate("document.documentElement.scrollWidth") <= width
    browser.screenshot(path=str(screenshot_dir / f"merged-labs-{width}.png"), full_page=True)

    browser.goto(f"{live_server.url}/records/conditions/")
    assert "via Metriport and via Particle" in browser.locator("main").inner_text()
    browser.screenshot(path=str(screenshot_dir / f"merged-conditions-{width}.png"), full_page=True)

    a1c = Resource.objects.get(user=mfa_user, network="metriport", resource_id="obs-1")
    browser.goto(f"{live_server.url}/records/item/{a1c.pk}/")
    where = browser.locator("section", has=browser.get_by_role("heading", name="Where this came from")).inner_text()
    assert "via Metriport and via Particle" in where and "Metriport" in where and "via Particle" in where
    assert browser.evaluate("document.documentElement.scrollWidth") <= width
    browser.screenshot(path=str(screenshot_dir / f"merged-item-{width}.png"), full_page=True)

    browser.context.set_extra_http_headers({"Accept-Language": "es-US,es;q=0.9"})
    browser.goto(f"{live_server.url}/records/item/{a1c.pk}/")
    text = browser.locator("main").inner_text()
    assert f"Informado por {RIVERSIDE}, a través de Metriport y a través de Particle" in text
    browser.screenshot(path=str(screenshot_dir / f"merged-item-es-{width}.png"), full_page=True)
