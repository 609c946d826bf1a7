"""In a Spanish browser, a lab result's "¿Qué es esto?" opens MedlinePlus's Spanish explanation; and a
person reading in English switches to Spanish in the header, then finds a lab and reads it explained."""

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from records.models import Resource
from tests.conftest import mfa_session

SPANISH = "es-US,es;q=0.9"


def _signed_in(browser, live_server, user, *, accept_language: str = SPANISH) -> None:
    client = mfa_session(Client(), user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    browser.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )
    browser.context.set_extra_http_headers({"Accept-Language": accept_language})


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_lab_explained_in_spanish(browser, live_server, settings, screenshot_dir, record_owner):
    settings.MEDLINEPLUS_CONNECT_URL = f"{live_server.url}/sandbox/medlineplus/service"
    egfr = Resource.objects.filter(user=record_owner, code="98979-8", is_primary=True).first()
    assert egfr is not None
    _signed_in(browser, live_server, record_owner)

    browser.goto(f"{live_server.url}/records/item/{egfr.pk}/")
    assert browser.get_by_role("heading", level=1).inner_text() == "Función renal (TFGe)"
    assert browser.get_by_role("heading", name="Detalles").is_visible()
    browser.get_by_role("link", name="¿Qué es esto?").click()

    browser.wait_for_url(f"**/records/item/{egfr.pk}/explain/")
    assert browser.get_by_role("heading", level=1).inner_text() == "¿Qué es esto?"
    assert browser.get_by_role("heading", name="Pruebas de los riñones", exact=True).is_visible()
    main = browser.locator("main").inner_text()
    assert "Biblioteca Nacional de Medicina" in main and "medlineplus.gov/spanish" in browser.content()
    assert "What is this?" not in main and "National Library of Medicine" not in main
    browser.screenshot(path=str(screenshot_dir / "records-explain-es-1280.png"), full_page=True)
    browser.set_viewport_size({"width": 390, "height": 844})
    browser.screenshot(path=str(screenshot_dir / "records-explain-es-390.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_switch_to_spanish_in_the_header_then_read_a_labs_explanation(
    browser, live_server, settings, screenshot_dir, record_owner
):
    """The browser asks for English; the header's switch alone turns the record, the lab and
    MedlinePlus's recorded answer into Spanish, and the choice is kept on the account."""
    settings.MEDLINEPLUS_CONNECT_URL = f"{live_server.url}/sandbox/medlineplus/service"
    _signed_in(browser, live_server, record_owner, accept_language="en-US,en;q=0.9")
    browser.goto(f"{live_server.url}/records/")
    expect(browser.locator("html")).to_have_attribute("lang", "en")
    expect(browser.get_by_role("heading", name="Your health record")).to_be_visible()

    browser.get_by_role("button", name="Español").click()

    expect(browser.locator("html")).to_have_attribute("lang", "es")
    expect(browser.get_by_role("heading", name="Su registro médico")).to_be_visible()
    record_owner.refresh_from_db()
    assert record_owner.language == "es"

    browser.get_by_role("navigation", name="Su registro").get_by_role("link", name="Resultados de laboratorio").click()
    expect(browser.get_by_role("heading", level=1)).to_have_text("Resultados de laboratorio")
    browser.get_by_role("link", name="Función renal (TFGe)").first.click()
    expect(browser.get_by_role("heading", level=1)).to_have_text("Función renal (TFGe)")
    browser.get_by_role("link", name="¿Qué es esto?").click()

    expect(browser.get_by_role("heading", level=1)).to_have_text("¿Qué es esto?")
    expect(browser.get_by_role("heading", name="Pruebas de los riñones", exact=True)).to_be_visible()
    main = browser.locator("main")
    expect(main).to_contain_text("Biblioteca Nacional de Medicina")
    expect(main).not_to_contain_text("What is this?")
    expect(main).not_to_contain_text("National Library of Medicine")
    expect(browser.locator('main a[href^="https://medlineplus.gov/spanish/"]').first).to_be_visible()
    browser.screenshot(path=str(screenshot_dir / "records-switch-explain-es-1280.png"), full_page=True)
    browser.set_viewport_size({"width": 390, "height": 844})
    browser.screenshot(path=str(screenshot_dir / "records-switch-explain-es-390.png"), full_page=True)
