"""A passkey as the second factor, in a real Chromium with a virtual authenticator (CDP WebAuthn)."""

import re

import pytest
from allauth.mfa.models import Authenticator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _virtual_authenticator(page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def _sign_in(page, base_url, email, password):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()


def test_enrol_a_passkey_and_use_it_to_sign_in(browser, live_server, user, password, screenshot_dir):
    page = browser
    _virtual_authenticator(page)
    _sign_in(page, live_server.url, user.email, password)
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    page.get_by_role("link", name="Add a passkey instead").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/webauthn/add/"))
    # The passkey buttons are type="button": allauth binds them on DOMContentLoaded, so wait for load.
    page.wait_for_load_state("load")
    page.get_by_label("Name").fill("Laptop passkey")
    page.screenshot(path=screenshot_dir / "passkey-01-add.png", full_page=True)
    page.get_by_role("button", name="Add").click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).count() == 1

    page.goto(f"{live_server.url}/account/")
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, live_server.url, user.email, password)
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.wait_for_load_state("load")
    page.screenshot(path=screenshot_dir / "passkey-02-second-factor.png", full_page=True)
    page.get_by_role("button", name=re.compile("security key", re.IGNORECASE)).click()
    page.wait_for_url(lambda url: "/accounts/2fa/authenticate/" not in url)
    page.goto(f"{live_server.url}/account/")
    assert page.url.endswith("/account/")
    assert page.get_by_role("heading", name="Your account").is_visible()
