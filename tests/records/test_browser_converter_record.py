"""A converter-shaped record read in a real browser, on a desktop and a phone; screenshots are kept."""

import pytest
from django.test import Client

from tests.conftest import mfa_session
from tests.records.conftest import ingest_bundle
from tests.records.fixtures.converter_shaped import converter_bundle

PAGES = [
    ("summary", "/records/", "", "Your health record"),
    ("conditions", "/records/conditions/", "", "Conditions"),
    ("allergies", "/records/allergies/", "", "Allergies"),
    ("medications", "/records/medications/", "", "Medications"),
    ("labs-kidney", "/records/labs/", "kidney", "Lab results"),
    ("family", "/records/family/", "", "Family history"),
    ("careplans", "/records/careplans/", "", "Care plans and goals"),
    ("other", "/records/other/", "", "Other records"),
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_converter_record_pages_in_a_browser(browser, live_server, screenshot_dir, mfa_user, tmp_path, settings, width):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    ingest_bundle(mfa_user, converter_bundle())
    client = mfa_session(Client(), mfa_user)
    browser.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    browser.set_viewport_size({"width": width, "height": 900})
    for name, path, search, heading in PAGES:
        browser.goto(f"{live_server.url}{path}")
        if search:
            browser.fill("#q", search)
            browser.get_by_role("button", name="Search", exact=True).click()
            browser.wait_for_load_state()
        assert browser.get_by_role("heading", name=heading, exact=True).first.is_visible()
        text = browser.locator("main").inner_text()
        assert "Unnamed item" not in text and "SNOMED CT" not in text and "ICD-10-CM" not in text
        if search == "kidney":
            assert "Kidney function (eGFR)" in text and "Creatinine" in text and "Potassium" not in text
        browser.screenshot(path=str(screenshot_dir / f"converter-{name}-{width}.png"), full_page=True)
