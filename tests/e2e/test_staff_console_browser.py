"""A staff member finds a person by name, gives a reason, reads their journey; the person then sees
that access in their history as "Homeport support". Screenshots at 1280 and 390 px."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import mfa_session
from tests.ias import conftest as ias_fixtures
from tests.portal.staff_story import person_story

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

network = ias_fixtures.network
WIDTHS = {"desktop": 1280, "phone": 390}


def signed_in(browser_instance, live_server, user, *, width: int = 1280, bypass_csp: bool = False):
    """A browser context whose session is `user`'s, with a second factor used just now. `bypass_csp`
    lets a test inject a script of its own (axe-core) into the page."""
    client = mfa_session(Client(), user)
    context = browser_instance.new_context(viewport={"width": width, "height": 900}, bypass_csp=bypass_csp)
    context.set_default_timeout(20_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context


def test_staff_find_a_person_by_name_and_the_person_sees_the_access(
    browser_instance, live_server, screenshot_dir, staff_user, mfa_user, network
):
    person_story(mfa_user, network=network)
    base = live_server.url

    context = signed_in(browser_instance, live_server, staff_user)
    page = context.new_page()
    page.goto(f"{base}/admin/accounts/user/")
    page.get_by_role("textbox", name="Search").fill("pharmacyfail")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text(mfa_user.email)
    page.screenshot(path=screenshot_dir / "staff-01-search-desktop.png", full_page=True)

    page.get_by_role("link", name="Open journey").click()
    expect(page.get_by_role("group", name="Why are you opening this person's health data?")).to_be_visible()
    page.screenshot(path=screenshot_dir / "staff-02-reason-desktop.png", full_page=True)
    page.get_by_label("Investigating a failed or stuck request").check()
    page.get_by_label("Details (a ticket number, or what you are looking for)").fill("ticket 4711")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name=f"Journey of {mfa_user.email}")).to_be_visible()
    expect(page.get_by_text("BundleDownloadError: answered 500")).to_be_visible()
    expect(page.get_by_role("button", name="Reprocess this event")).to_be_visible()
    page.screenshot(path=screenshot_dir / "staff-03-person-desktop.png", full_page=True)

    page.get_by_role("link", name="All events that concern this person").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=screenshot_dir / "staff-04-webhooks-desktop.png", full_page=True)
    context.close()

    context = signed_in(browser_instance, live_server, mfa_user)
    page = context.new_page()
    page.goto(f"{base}/records/access/")
    row = page.locator("tr", has_text="Homeport support")
    expect(row.first).to_be_visible()
    expect(row.first).to_contain_text("Investigating a failed or stuck request: ticket 4711")
    expect(page.locator("body")).not_to_contain_text(staff_user.email)
    page.screenshot(path=screenshot_dir / "staff-05-access-history-desktop.png", full_page=True)
    context.close()


def test_the_staff_pages_fit_a_phone(browser_instance, live_server, screenshot_dir, staff_user, mfa_user, network):
    person_story(mfa_user, network=network)
    base = live_server.url
    context = signed_in(browser_instance, live_server, staff_user, width=WIDTHS["phone"])
    page = context.new_page()
    page.goto(f"{base}/admin/accounts/user/?q=pharmacyfail")
    page.screenshot(path=screenshot_dir / "staff-01-search-phone.png", full_page=True)
    page.goto(f"{base}/admin/accounts/user/{mfa_user.pk}/journey/")
    page.screenshot(path=screenshot_dir / "staff-02-reason-phone.png", full_page=True)
    page.get_by_label("The person asked support for help").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=f"Journey of {mfa_user.email}")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["phone"] + 1
    page.screenshot(path=screenshot_dir / "staff-03-person-phone.png", full_page=True)
    page.goto(f"{base}/admin/ias/webhookevent/?person={mfa_user.pk}")
    page.screenshot(path=screenshot_dir / "staff-04-webhooks-phone.png", full_page=True)
    context.close()

    context = signed_in(browser_instance, live_server, mfa_user, width=WIDTHS["phone"])
    page = context.new_page()
    page.goto(f"{base}/records/access/")
    expect(page.get_by_text("Homeport support").first).to_be_visible()
    page.screenshot(path=screenshot_dir / "staff-05-access-history-phone.png", full_page=True)
    context.close()
