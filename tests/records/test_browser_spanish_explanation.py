"""In a Spanish browser, a lab result's "¿Qué es esto?" opens MedlinePlus's Spanish explanation."""

import pytest
from django.test import Client

from records.models import Resource
from tests.conftest import mfa_session


def _signed_in(browser, live_server, user) -> None:
    client = mfa_session(Client(), user)
    cookie = client.cookies["sessionid"]
    browser.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    browser.context.set_extra_http_headers({"Accept-Language": "es-US,es;q=0.9"})


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
