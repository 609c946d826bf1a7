"""A new person signs up in a real browser: confirm the email, enrol TOTP, land on the home page."""

import re

import pytest
from django.core import mail

from tests.helpers import totp_with_time_to_spare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signup_confirm_email_enrol_totp_and_land_home(browser, live_server, screenshot_dir, settings):
    settings.PORTAL_BASE_URL = live_server.url  # email links are built from it, never from the Host header
    page = browser
    page.goto(f"{live_server.url}/")
    page.screenshot(path=screenshot_dir / "signup-01-landing.png", full_page=True)
    page.get_by_role("link", name="Create your account").click()

    page.get_by_label("Email").fill("new.patient@example.com")
    page.get_by_label("Password", exact=True).fill("a calm long passphrase 7")
    page.get_by_label("Password (again)").fill("a calm long passphrase 7")
    page.screenshot(path=screenshot_dir / "signup-02-form.png", full_page=True)
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()

    assert len(mail.outbox) == 1
    link_match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(mail.outbox[0].body))
    assert link_match is not None
    link = link_match.group(0)
    page.goto(link.replace("http://testserver", live_server.url))
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    page.screenshot(path=screenshot_dir / "signup-03-totp.png", full_page=True)
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    page.get_by_label("Authenticator code").fill(totp_with_time_to_spare(secret))
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery Codes").wait_for()
    page.screenshot(path=screenshot_dir / "signup-04-recovery-codes.png", full_page=True)

    page.get_by_role("link", name="I've saved my codes — continue").click()
    page.goto(f"{live_server.url}/")
    page.get_by_role("heading", name="Welcome").wait_for()
    page.screenshot(path=screenshot_dir / "signup-05-home.png", full_page=True)
    assert page.get_by_role("link", name="Continue").is_visible()

    page.goto(f"{live_server.url}/records/")
    assert "/accounts/2fa/" not in page.url
    assert "/accounts/login/" not in page.url
