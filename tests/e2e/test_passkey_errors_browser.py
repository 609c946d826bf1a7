"""A passkey that cannot be made says why on the page (allauth's script only logs to the console)."""

import re

import pytest
from allauth.mfa.models import Authenticator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _to_passkey_page(page, base_url, email, password):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    page.get_by_role("link", name="Add a passkey instead").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/webauthn/add/"))
    # The Add button is type="button": allauth binds it on DOMContentLoaded, so wait for the page to load.
    page.wait_for_load_state("load")
    page.get_by_label("Name").fill("Laptop passkey")


def test_at_an_ip_address_the_page_says_to_open_localhost(browser, live_server, user, password, screenshot_dir):
    page = browser
    base = live_server.url.replace("localhost", "127.0.0.1")
    _to_passkey_page(page, base, user.email, password)
    alert = page.get_by_role("alert")
    assert "address made of numbers" in alert.inner_text()
    page.get_by_role("button", name="Add").click()
    assert "http://localhost:" in alert.inner_text()
    page.screenshot(path=screenshot_dir / "passkey-error-ip-address.png", full_page=True)
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).exists()


def test_a_browser_without_passkeys_is_told_to_use_an_app(browser, live_server, user, password, screenshot_dir):
    page = browser
    page.add_init_script("delete window.PublicKeyCredential;")
    _to_passkey_page(page, live_server.url, user.email, password)
    alert = page.get_by_role("alert")
    assert "cannot create passkeys" in alert.inner_text()
    page.get_by_role("button", name="Add").click()
    page.wait_for_timeout(300)
    assert "authenticator app" in alert.inner_text()
    assert page.url.endswith("/accounts/2fa/webauthn/add/")
    page.screenshot(path=screenshot_dir / "passkey-error-unsupported.png", full_page=True)


def test_a_cancelled_passkey_is_explained(browser, live_server, user, password):
    page = browser
    _to_passkey_page(page, live_server.url, user.email, password)
    page.evaluate(
        "() => { navigator.credentials.create = () => Promise.reject(new DOMException('The operation either timed"
        " out or was not allowed.', 'NotAllowedError')) }"
    )
    page.get_by_role("button", name="Add").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "cancelled or took too long" in alert.inner_text()
