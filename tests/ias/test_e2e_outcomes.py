"""Journeys that end somewhere other than "everything found", in a real browser against the sandbox with
a real worker: Pat Norecords, Pat Idfail, and a returning person who searches again from the home page."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import mfa_session
from tests.helpers import totp_with_time_to_spare

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DELAYS = {"hie": 0.5, "pharmacy": 0.8, "lab": 1.0}


@pytest.fixture
def portal_on_live_server(live_server, settings):
    base = live_server.url
    settings.PORTAL_BASE_URL = base
    settings.METRIPORT_BASE_URL = f"{base}/sandbox"
    settings.SANDBOX_WEBHOOK_URL = f"{base}/webhooks/metriport/"
    settings.SANDBOX_SOURCE_DELAY_SECONDS = DELAYS
    settings.SANDBOX_CONSOLIDATED_DELAY_SECONDS = 0.5
    settings.SANDBOX_RECORD_SIZE = 120
    return {
        "PORTAL_BASE_URL": base,
        "METRIPORT_BASE_URL": f"{base}/sandbox",
        "SANDBOX_WEBHOOK_URL": f"{base}/webhooks/metriport/",
        "SANDBOX_SOURCE_DELAY_SECONDS": ",".join(f"{k}={v}" for k, v in DELAYS.items()),
        "SANDBOX_CONSOLIDATED_DELAY_SECONDS": "0.5",
    }


def signed_in(page, base: str, user):
    """A person with a second factor, signed in in this browser (the sign-up is tested elsewhere)."""
    client = mfa_session(Client(), user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base,
            }
        ]
    )
    return user


def consent_and_details(page, base: str, *, first: str, last: str) -> None:
    page.goto(f"{base}/start/")
    page.wait_for_url(re.compile(r"/journey/consent/"))
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="I agree, continue").click()
    page.wait_for_url(re.compile(r"/journey/details/"))
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Date of birth").fill("1984-07-12")
    page.get_by_label("Sex at birth").select_option("F")
    page.get_by_label("Street address").fill("12 Harbor Way")
    page.get_by_label("City").fill("Boston")
    page.get_by_label("State").select_option("MA")
    page.get_by_label("ZIP code").fill("02110")
    page.get_by_role("button", name="Save and continue").click()


def identity_at_the_network(page) -> None:
    page.wait_for_url(re.compile(r"/journey/identity/$"))
    page.get_by_role("button", name=re.compile("identity check")).click()
    page.wait_for_url(re.compile(r"/sandbox/identity/"))
    page.locator("#id_document").check()
    page.locator("#id_selfie").check()
    page.locator("#outcome_verified").check()
    page.get_by_role("button", name="Finish and return to Homeport").click()


def security_check_then_search(page) -> None:
    page.wait_for_url(re.compile(r"/journey/check/$"), timeout=60_000)
    page.get_by_role("button", name="Start the security check").click()
    page.wait_for_url(re.compile(r"/sandbox/aal2/"))
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_label("Authentication code").fill(totp_with_time_to_spare(secret))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/journey/search/$"))
    page.get_by_role("button", name="Search for my records").click()
    page.wait_for_url(re.compile(r"/journey/search/[0-9a-f-]{36}/$"))


def wait_for_outcome(page, worker, kind: str) -> None:
    try:
        page.locator(f'[data-ias-outcome="{kind}"]').wait_for(timeout=90_000)
    except Exception:
        print(worker.log()[-6000:])
        raise


def test_norecords_ends_on_an_explanation_and_a_way_to_search_again(
    browser, live_server, portal_on_live_server, start_worker, screenshot_dir, mfa_user
):
    worker = start_worker(portal_on_live_server)
    page, base = browser, live_server.url
    signed_in(page, base, mfa_user)
    consent_and_details(page, base, first="Pat", last="Norecords")
    identity_at_the_network(page)
    security_check_then_search(page)
    wait_for_outcome(page, worker, "no_records")
    page.screenshot(path=screenshot_dir / "outcome-norecords.png", full_page=True)
    expect(page.get_by_text("No records were found.")).to_be_visible()
    expect(page.locator("tr[data-source] .badge")).to_have_text(["No records"] * 3)
    page.get_by_role("link", name="Check my details and search again").click()
    page.wait_for_url(re.compile(r"/journey/details/"))
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(re.compile(r"/journey/check/$"))


def test_idfail_ends_on_the_reason_a_limit_and_the_record_explains_why_it_is_empty(
    browser, live_server, portal_on_live_server, start_worker, screenshot_dir, mfa_user
):
    worker = start_worker(portal_on_live_server)
    page, base = browser, live_server.url
    signed_in(page, base, mfa_user)
    consent_and_details(page, base, first="Pat", last="Idfail")
    identity_at_the_network(page)
    try:
        page.locator("[data-ias-identity-failed]").wait_for(timeout=60_000)
    except Exception:
        print(worker.log()[-6000:])
        raise
    page.screenshot(path=screenshot_dir / "outcome-idfail.png", full_page=True)
    expect(page.get_by_text("did not match the details entered", exact=False)).to_be_visible()
    expect(page.get_by_text("2 tries left")).to_be_visible()
    expect(page.get_by_role("button", name="Try the identity check again")).to_be_visible()
    page.goto(f"{base}/records/")
    banner = page.locator('[data-journey-banner="identity"]')
    expect(banner).to_contain_text("no records could be requested yet")
    banner.get_by_role("link", name="See what to do").click()
    page.wait_for_url(re.compile(r"/journey/identity/$"))


def test_a_returning_person_gets_new_records_from_the_home_page(
    browser, live_server, portal_on_live_server, start_worker, screenshot_dir, mfa_user
):
    from ias.models import NetworkQuery

    worker = start_worker(portal_on_live_server)
    page, base = browser, live_server.url
    user = signed_in(page, base, mfa_user)
    consent_and_details(page, base, first="Robin", last="Returning")
    identity_at_the_network(page)
    security_check_then_search(page)
    wait_for_outcome(page, worker, "ready")

    page.goto(f"{base}/")
    expect(page.locator("[data-last-search]")).to_be_visible()
    page.screenshot(path=screenshot_dir / "home-returning.png", full_page=True)
    page.locator("main").get_by_role("link", name="Get new records").click()
    security_check_then_search(page)
    wait_for_outcome(page, worker, "ready")
    assert NetworkQuery.objects.filter(user=user, kind="network").count() == 2
    page.get_by_role("link", name="Read my record").click()
    expect(page.locator('[data-journey-banner="last-search"]')).to_be_visible()
