"""The browser journey's shared steps, up to the sources page: the e2e tests of one network and of two
walk them the same way."""

import re

from django.core import mail

from tests.helpers import totp_with_time_to_spare


def walk_to_sources(page, base: str, shot) -> None:
    """Sign up with TOTP, consent, give details (one mistake first), prove identity and pass AAL2."""
    # 1. Account: sign up, confirm the email, enrol TOTP.
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Email").fill("journey.person@example.com")
    page.get_by_label("Password", exact=True).fill("a calm long passphrase 7")
    page.get_by_label("Password (again)").fill("a calm long passphrase 7")
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()
    link_match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(mail.outbox[-1].body))
    assert link_match is not None
    link = link_match.group(0)
    page.goto(link.replace("http://testserver", base))
    page.get_by_role("button", name="Confirm").click()
    page.goto(f"{base}/start/")
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_with_time_to_spare(secret))
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery Codes").wait_for()

    # 2. Consent.
    page.goto(f"{base}/start/")
    page.wait_for_url(re.compile(r"/journey/consent/"))
    assert page.get_by_role("link", name=re.compile("privacy", re.I)).first.is_visible()
    shot("01-consent")
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="I agree, continue").click()

    # 3. Details (one mistake first: the error sits next to its field).
    page.wait_for_url(re.compile(r"/journey/details/"))
    page.get_by_label("First name").fill("Jordan")
    page.get_by_label("Last name").fill("Sample")
    page.get_by_label("Date of birth").fill("1984-07-12")
    page.get_by_label("Sex at birth").select_option("F")
    page.get_by_label("Street address").fill("12 Harbor Way")
    page.get_by_label("City").fill("Boston")
    page.get_by_label("State").select_option("MA")
    page.get_by_label("ZIP code").fill("021")
    page.get_by_label("Mobile phone (optional)").fill("617-555-0142")
    page.get_by_role("button", name="Save and continue").click()
    page.locator("#id_zip_error").wait_for()
    shot("02-details-error")
    page.get_by_label("ZIP code").fill("02110")
    page.get_by_role("button", name="Save and continue").click()

    # 4. Identity: the sandbox's hosted page, then the waiting page moves on by itself.
    page.wait_for_url(re.compile(r"/journey/identity/$"))
    page.get_by_role("button", name="Start the identity check").click()
    page.wait_for_url(re.compile(r"/sandbox/identity/"))
    shot("03-identity-provider")
    page.locator("#id_document").check()
    page.locator("#id_selfie").check()
    page.locator("#outcome_verified").check()
    page.get_by_role("button", name="Finish and return to Homeport").click()
    page.wait_for_url(re.compile(r"/journey/(identity/wait|check)/"))
    shot("04-identity-wait")
    page.wait_for_url(re.compile(r"/journey/check/$"), timeout=60_000)

    # 5. AAL2 at the network.
    shot("05-aal2")
    page.get_by_role("button", name="Start the security check").click()
    page.wait_for_url(re.compile(r"/sandbox/aal2/"))
    network_secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_label("Authentication code").fill(totp_with_time_to_spare(network_secret))
    page.get_by_role("button", name="Verify").click()

    page.wait_for_url(re.compile(r"/journey/search/$"))
