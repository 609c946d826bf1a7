"""A real browser reads a C-CDA document page, wide and phone-sized; screenshots are kept to look at."""

import pytest
from django.test import Client

from records.models import Resource
from tests.conftest import mfa_session


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_ccda_document_page_in_a_browser(browser, live_server, screenshot_dir, record_owner):
    client = mfa_session(Client(), record_owner)
    cookie = client.cookies["sessionid"]
    browser.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    doc = (
        Resource.objects.filter(
            user=record_owner,
            resource_type="DocumentReference",
            raw__content__0__attachment__contentType="application/xml",
        )
        .order_by("pk")
        .first()
    )
    assert doc is not None
    browser.goto(f"{live_server.url}/records/item/{doc.pk}/document/0/read/")
    assert browser.get_by_role("heading", name="Allergies and Adverse Reactions").is_visible()
    assert browser.locator(".ccda-narrative table").first.is_visible()
    browser.screenshot(path=str(screenshot_dir / "records-ccda-desktop.png"), full_page=True)
    browser.set_viewport_size({"width": 390, "height": 844})
    browser.reload()
    width = browser.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    browser.screenshot(path=str(screenshot_dir / "records-ccda-phone.png"), full_page=True)
    browser.goto(f"{live_server.url}/records/item/{doc.pk}/")
    browser.screenshot(path=str(screenshot_dir / "records-document-item.png"), full_page=True)
