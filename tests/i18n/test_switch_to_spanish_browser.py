"""In a real browser: a person switches to Spanish from the header (no script needed) and reads the
journey in Spanish, at desktop and phone widths."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from accounts.models import User
from ias.models import NetworkQuery, QuerySource
from tests.conftest import mfa_session
from tests.ias.conftest import verified

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def test_header_switch_to_spanish_then_the_journey_reads_in_spanish(
    browser_instance, live_server, make_mfa_client, screenshot_dir
):
    person = User.objects.get(pk=make_mfa_client().session["_auth_user_id"])
    verified(person, patient_id="pat_espanol")
    query = NetworkQuery.objects.create(user=person, request_id="req_espanol", status="processing")
    QuerySource.objects.create(query=query, source_type="hie", status="completed", records="fetched")
    QuerySource.objects.create(query=query, source_type="pharmacy", status="processing")
    QuerySource.objects.create(
        query=query, source_type="lab", status="refused", reason="This source could not be searched."
    )
    session = mfa_session(Client(), person).cookies[settings.SESSION_COOKIE_NAME].value

    context = browser_instance.new_context(viewport=DESKTOP, locale="en-US", java_script_enabled=False)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Your search is running")).to_be_visible()

    page.get_by_role("button", name="Español").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Su búsqueda está en curso")).to_be_visible()
    expect(page.get_by_role("link", name="Mi registro", exact=True)).to_be_visible()
    person.refresh_from_db()
    assert person.language == "es"

    pages = {
        "home": "/",
        "consent": "/journey/consent/",
        "progress": f"/journey/search/{query.public_id}/",
    }
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            page.goto(f"{live_server.url}{path}")
            expect(page.locator("html")).to_have_attribute("lang", "es")
            page.screenshot(path=str(screenshot_dir / f"es-{viewport['width']}-{name}.png"), full_page=True)
    page.goto(f"{live_server.url}/journey/consent/")
    expect(page.get_by_role("heading", name="Antes de obtener sus registros")).to_be_visible()
    page.goto(f"{live_server.url}/journey/search/{query.public_id}/")
    expect(page.get_by_role("heading", name="Su búsqueda", exact=True)).to_be_visible()
    expect(page.get_by_text("No se pudo buscar en esta fuente.")).to_be_visible()
    expect(page.get_by_role("row", name="Farmacias Buscando…")).to_be_visible()
    context.close()
