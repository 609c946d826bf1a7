"""End to end in real browsers: a person shares with a passcode, a clinician opens it in another
browser and reads the allergies, the person sees the opening and stops the share, the viewer then
says it is gone. Screenshots at 1280 and 390 px are kept for people to look at."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from records.models import Resource, Share
from tests.conftest import mfa_session

PHONE = {"width": 390, "height": 844}


def _shot(page, folder, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}-1280.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(folder / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(size)


def _active_allergy_names(user) -> list[str]:
    rows = Resource.objects.filter(user=user, category="allergies", is_primary=True, retired_at__isnull=True)
    rows = rows.exclude(status__in=("inactive", "resolved", "entered-in-error", "refuted"))
    return [r.raw["code"]["text"] for r in rows if isinstance(r.raw.get("code"), dict) and r.raw["code"].get("text")]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_share_open_see_and_revoke(browser, browser_instance, live_server, screenshot_dir, record_owner, settings):
    settings.PORTAL_BASE_URL = live_server.url
    allergies = _active_allergy_names(record_owner)
    assert allergies

    # The person makes a share with a passcode.
    person = browser
    cookie = mfa_session(Client(), record_owner).cookies["sessionid"]
    person.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    person.goto(f"{live_server.url}/records/")
    person.get_by_role("link", name="Share my record").click()
    person.get_by_role("link", name="Share my record").last.click()
    expect(person.get_by_role("heading", name="Share your record with a clinician")).to_be_visible()
    person.get_by_label("Name this share").fill("For Dr. Rivera, cardiology")
    person.get_by_label("The link works for").select_option("7d")
    person.get_by_label("Passcode").fill("tulip-42")
    _shot(person, screenshot_dir, "share-form")
    person.get_by_role("button", name="Make the link").click()
    expect(person.get_by_role("heading", name="Your share is ready")).to_be_visible()
    expect(person.locator("img.share-qr")).to_be_visible()
    viewer_url = person.locator("#viewer-link").input_value()
    assert re.match(rf"^{re.escape(live_server.url)}/share/view#shlink:/[A-Za-z0-9_-]+$", viewer_url)
    _shot(person, screenshot_dir, "share-result")
    person.emulate_media(media="print")
    expect(person.locator(".share-handout")).to_be_visible()
    expect(person.locator(".share-screen")).to_be_hidden()
    person.screenshot(path=str(screenshot_dir / "share-handout-print.png"), full_page=True)
    person.emulate_media(media="screen")

    # A clinician opens it in another browser, without an account.
    context = browser_instance.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    clinician = context.new_page()
    errors: list[str] = []
    clinician.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    clinician.goto(viewer_url)
    expect(clinician.get_by_role("heading", name="Health record shared with you")).to_be_visible()
    expect(clinician.get_by_text("For Dr. Rivera, cardiology").first).to_be_visible()
    expect(clinician.get_by_label("Passcode")).to_be_visible()
    _shot(clinician, screenshot_dir, "share-viewer-ask")
    clinician.get_by_label("Your name and organization").fill("Dr. Rivera, Cardiology")
    clinician.get_by_label("Passcode").fill("wrong")
    clinician.get_by_role("button", name="Open the record").click()
    expect(clinician.get_by_text("That passcode is not right. 9 tries are left.")).to_be_visible()
    clinician.get_by_label("Passcode").fill("tulip-42")
    clinician.get_by_role("button", name="Open the record").click()
    section = clinician.locator("section.viewer-section", has=clinician.get_by_role("heading", name="Allergies"))
    section.wait_for()
    for name in allergies[:3]:
        expect(section.get_by_text(name, exact=True).first).to_be_visible()
    expect(clinician.get_by_role("link", name="Download PDF")).to_be_visible()
    expect(clinician.get_by_role("link", name="Download FHIR file")).to_be_visible()
    with clinician.expect_download() as download:
        clinician.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == "patient-summary.pdf"
    _shot(clinician, screenshot_dir, "share-viewer-summary")
    assert not [e for e in errors if "Content Security Policy" in e]

    # The person sees the opening in their history, then stops the share.
    person.goto(f"{live_server.url}/records/access/")
    opening = "Opened by Dr. Rivera, Cardiology through the share 'For Dr. Rivera, cardiology'"
    expect(person.get_by_text(opening)).to_be_visible()
    _shot(person, screenshot_dir, "share-access-history")
    person.goto(f"{live_server.url}/share/")
    expect(person.get_by_role("cell", name="Dr. Rivera, Cardiology")).to_be_visible()
    _shot(person, screenshot_dir, "share-list")
    person.get_by_role("button", name="Stop this share").click()
    expect(person.get_by_text("no longer works").first).to_be_visible()
    assert Share.objects.get(user=record_owner).revoked_at is not None

    # The viewer now says the share is gone.
    clinician.goto(f"{live_server.url}/")
    clinician.goto(viewer_url)
    clinician.get_by_label("Your name and organization").fill("Dr. Rivera, Cardiology")
    clinician.get_by_label("Passcode").fill("tulip-42")
    clinician.get_by_role("button", name="Open the record").click()
    expect(clinician.get_by_role("heading", name="This share is no longer available")).to_be_visible()
    _shot(clinician, screenshot_dir, "share-viewer-gone")
    context.close()
