"""A new person exercises every right in a real browser: read the notice, consent, withdraw, consent
again, download their data, delete their account; the confirmation email and the audit row follow."""

import io
import json
import re
import zipfile

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from playwright.sync_api import expect

from tests.helpers import totp_with_time_to_spare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "rights.person@example.com"
PASSPHRASE = "a calm long passphrase 7"
EXPORT_MEMBERS = {
    "README.txt",
    "record/bundle.json",
    "record/resources.ndjson",
    "network.json",
    "consents.json",
    "access-log.ndjson",
    "account.json",
}


def _age_sign_in(page, *, seconds: float) -> None:
    """Move this browser session's sign-in records into the past, as if the person stepped away.

    Still inside the health gate's idle limit, but outside allauth's reauthentication window, so the
    next export or deletion asks the person to confirm it's them (the path this test must pass)."""
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = SessionStore(session_key=cookie["value"])
    methods = session["account_authentication_methods"]
    for method in methods:
        method["at"] -= seconds
    session["account_authentication_methods"] = methods
    session.save()


def _pass_reauthentication(page, *, secret: str, used_codes: set[str]) -> str:
    """Answer whichever reauthentication page is shown: the password, or a fresh TOTP code."""
    password = page.get_by_label("Password", exact=True)
    if password.count():
        password.fill(PASSPHRASE)
        page.get_by_role("button", name=re.compile("confirm", re.I)).click()
        return "password"
    code = totp_with_time_to_spare(secret)
    while code in used_codes:  # allauth refuses a code twice; wait for the next 30-second period
        page.wait_for_timeout(1000)
        code = totp_with_time_to_spare(secret)
    used_codes.add(code)
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name=re.compile("confirm", re.I)).click()
    return "totp"


def test_a_new_person_uses_every_right_in_the_browser(browser, live_server, screenshot_dir, monkeypatch):
    from accounts.models import Consent, User
    from portal import tasks
    from portal.models import AccountDeletion

    # The confirmation email is a Celery task sent after commit; record the enqueue, run it below.
    queued: list[dict] = []
    monkeypatch.setattr(
        tasks.account_deletion_notify, "apply_async", lambda kwargs=None, **options: queued.append(kwargs)
    )

    page = browser
    base = live_server.url
    monkeypatch.setattr(settings, "PORTAL_BASE_URL", base)  # email links are built from it, never the Host header
    used_codes: set[str] = set()
    shots = iter(range(1, 100))

    def shot(name: str) -> None:
        page.screenshot(path=screenshot_dir / f"rights-{next(shots):02d}-{name}.png", full_page=True)

    # Sign up, confirm the email, enrol TOTP.
    page.goto(f"{base}/accounts/signup/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Password (again)").fill(PASSPHRASE)
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("heading", name="Verify Your Email Address").wait_for()
    assert len(mail.outbox) == 1
    link_match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", str(mail.outbox[0].body))
    assert link_match is not None
    link = link_match.group(0)
    page.goto(link.replace("http://testserver", base))
    page.get_by_role("button", name="Confirm").click()
    page.goto(f"{base}/start/")
    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("#authenticator_secret").input_value()
    code = totp_with_time_to_spare(secret)
    used_codes.add(code)
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery Codes").wait_for()
    shot("recovery-codes")

    # The consent step links to the full privacy notice; read it, come back, consent.
    page.goto(f"{base}/start/")
    page.wait_for_url(re.compile(r"/journey/consent/$"))
    shot("consent")
    page.locator("main .page-header").get_by_role("link", name=re.compile("privacy .*notice", re.I)).click()
    page.wait_for_url(re.compile(r"/privacy/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("privacy", re.I))
    expect(page.locator("main")).to_contain_text(settings.PRIVACY_NOTICE_VERSION)
    shot("privacy-notice")
    page.go_back()
    page.wait_for_url(re.compile(r"/journey/consent/$"))
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="I agree, continue").click()
    page.wait_for_url(re.compile(r"/journey/details/$"))
    shot("after-consent")
    user = User.objects.get(email=EMAIL)
    assert Consent.objects.filter(user=user, revoked_at__isnull=True).count() == 1

    # Withdraw consent from the account page, through its confirmation page.
    page.goto(f"{base}/account/")
    consent_card = page.locator("#consent")
    expect(consent_card.locator(".badge")).to_have_text("Given")
    shot("account-consented")
    consent_card.get_by_role("link", name="Withdraw my consent").click()
    page.wait_for_url(re.compile(r"/account/consent/revoke/$"))
    page.get_by_role("button", name="Withdraw my consent").click()
    expect(page.locator(".field__error").first).to_be_visible()  # the box must be ticked
    shot("withdraw-unticked")
    page.get_by_label(re.compile("I want to withdraw my consent")).check()
    shot("withdraw-confirm")
    page.get_by_role("button", name="Withdraw my consent").click()
    page.wait_for_url(re.compile(r"/account/$"))
    expect(page.get_by_text("Your consent is withdrawn")).to_be_visible()
    expect(consent_card.locator(".badge")).to_have_text("Not given")
    expect(consent_card.get_by_role("link", name="Withdraw my consent")).to_have_count(0)
    shot("account-withdrawn")
    assert not Consent.objects.filter(user=user, revoked_at__isnull=True).exists()

    # The journey now asks for consent again; give it again.
    page.goto(f"{base}/start/")
    page.wait_for_url(re.compile(r"/journey/consent/$"))
    expect(page.get_by_role("button", name="I agree, continue")).to_be_visible()
    shot("consent-asked-again")
    page.get_by_label(re.compile("I agree")).check()
    page.get_by_role("button", name="I agree, continue").click()
    page.wait_for_url(re.compile(r"/journey/details/$"))
    page.goto(f"{base}/account/")
    expect(consent_card.locator(".badge")).to_have_text("Given")
    expect(page.locator("section[aria-labelledby=consent-history-title] tbody tr")).to_have_count(2)
    shot("account-consented-again")

    # Download "my data": the sign-in is no longer fresh, so the portal asks to confirm it's them.
    _age_sign_in(page, seconds=600)
    page.goto(f"{base}/account/")
    page.get_by_role("link", name="Download my data").click()
    page.wait_for_url(re.compile(r"/account/export/$"))
    shot("export")
    page.get_by_role("button", name="Download my data (.zip)").click()
    page.wait_for_url(re.compile(r"/reauthenticate/"))
    shot("export-reauthenticate")
    # A TOTP code may have to wait for the next 30-second period (allauth refuses one twice).
    with page.expect_download(timeout=60_000) as download_info:
        how = _pass_reauthentication(page, secret=secret, used_codes=used_codes)
    download = download_info.value
    assert re.fullmatch(r"homeport-export-\d{8}-\d{6}\.zip", download.suggested_filename)
    with zipfile.ZipFile(io.BytesIO(download.path().read_bytes())) as archive:
        assert set(archive.namelist()) == EXPORT_MEMBERS
        account = json.loads(archive.read("account.json"))
        consents = json.loads(archive.read("consents.json"))
        access_log = archive.read("access-log.ndjson").decode()
    assert EMAIL in json.dumps(account)
    consent_rows = consents if isinstance(consents, list) else consents.get("consents", consents)
    assert len(consent_rows) == 2, consents
    assert sum(1 for row in consent_rows if row.get("revoked_at")) == 1, consents
    assert secret not in json.dumps(account) and "pbkdf2" not in json.dumps(account)
    assert all(json.loads(line) for line in access_log.splitlines())
    shot(f"export-done-after-{how}")

    # The download itself is in the access history they can see.
    page.goto(f"{base}/account/")
    expect(page.locator("#access-history")).to_contain_text("account:export")

    # Delete the account (the sign-in is stale again, so reauthenticate): a wrong confirmation is
    # refused, then DELETE goes through.
    _age_sign_in(page, seconds=600)
    page.goto(f"{base}/account/")
    page.get_by_role("link", name="Delete my account").click()
    page.wait_for_url(re.compile(r"/account/delete/$"))
    shot("delete")
    page.get_by_label(re.compile("type DELETE")).fill("delete")
    page.get_by_role("button", name="Delete my account for good").click()
    page.wait_for_url(re.compile(r"/reauthenticate/"))
    shot("delete-reauthenticate")
    _pass_reauthentication(page, secret=secret, used_codes=used_codes)
    # allauth replays the suspended POST: the answer is the delete form again, with the error.
    expect(page.locator(".field__error")).to_contain_text("does not match")
    shot("delete-wrong-confirmation")
    assert User.objects.filter(email=EMAIL).exists()
    page.get_by_label(re.compile("type DELETE")).fill("DELETE")
    page.get_by_role("button", name="Delete my account for good").click()
    page.wait_for_url(re.compile(r"/account/deleted/$"))
    expect(page.get_by_role("heading", name="Your account is deleted")).to_be_visible()
    shot("deleted")

    # Signed out: the account page now sends them to sign in.
    page.goto(f"{base}/account/")
    page.wait_for_url(re.compile(r"/accounts/login/"))

    # The database: no person, one audit row without their address; the email was queued after commit.
    assert not User.objects.filter(email__iexact=EMAIL).exists()
    assert not User.objects.filter(pk=user.pk).exists()
    audit = AccountDeletion.objects.get()
    assert audit.user_id_was == user.pk
    assert audit.completed_at is not None
    assert audit.counts["consents"] == 2
    assert audit.network_deletion_scheduled is False
    assert EMAIL not in json.dumps(list(AccountDeletion.objects.values()), default=str)
    assert queued == [{"deletion_id": audit.pk}]
    before = len(mail.outbox)
    assert tasks.account_deletion_notify(deletion_id=audit.pk) == "sent"
    assert len(mail.outbox) == before + 1
    confirmation = mail.outbox[-1]
    assert confirmation.to == [EMAIL]
    assert "deleted" in confirmation.subject
    audit.refresh_from_db()
    assert audit.notify_email_encrypted == "" and audit.notified_at is not None
