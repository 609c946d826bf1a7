"""The whole journey in a real browser, against the sandbox over real HTTP, with a real Celery worker:
sign up, MFA, consent, details, identity, AAL2, query, and the progress page showing every source done."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.helpers import totp_now

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DELAYS = {"hie": 1.0, "pharmacy": 1.5, "lab": 2.0}


@pytest.fixture
def portal_on_live_server(live_server, settings):
    """Point the portal, the network client and the sandbox's webhooks at the live server."""
    base = live_server.url
    settings.PORTAL_BASE_URL = base
    settings.METRIPORT_BASE_URL = f"{base}/sandbox"
    settings.SANDBOX_WEBHOOK_URL = f"{base}/webhooks/metriport/"
    settings.SANDBOX_SOURCE_DELAY_SECONDS = DELAYS
    settings.SANDBOX_CONSOLIDATED_DELAY_SECONDS = 0.5
    return {
        "PORTAL_BASE_URL": base,
        "METRIPORT_BASE_URL": f"{base}/sandbox",
        "SANDBOX_WEBHOOK_URL": f"{base}/webhooks/metriport/",
        "SANDBOX_SOURCE_DELAY_SECONDS": ",".join(f"{k}={v}" for k, v in DELAYS.items()),
        "SANDBOX_CONSOLIDATED_DELAY_SECONDS": "0.5",
    }


def test_whole_journey_in_a_browser(browser, live_server, portal_on_live_server, start_worker, screenshot_dir):
    worker = start_worker(portal_on_live_server)
    page = browser
    base = live_server.url

    def shot(name):
        page.screenshot(path=screenshot_dir / f"ias-{name}.png", full_page=True)

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
    page.get_by_label("Authenticator code").fill(totp_now(secret))
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
    page.get_by_label("Authentication code").fill(totp_now(network_secret))
    page.get_by_role("button", name="Verify").click()

    # 6. Sources, then the live progress page.
    page.wait_for_url(re.compile(r"/journey/search/$"))
    shot("06-sources")
    page.get_by_role("button", name="Search for my records").click()
    page.wait_for_url(re.compile(r"/journey/search/[0-9a-f-]{36}/$"))
    shot("07-progress-running")
    try:
        expect(page.locator('tr[data-source][data-status="completed"]')).to_have_count(3, timeout=90_000)
    except Exception:
        shot("07-progress-stuck")
        print(worker.log()[-6000:])
        raise
    page.get_by_role("link", name="Read my record").wait_for()
    shot("08-progress-done")
    rows = page.locator("tr[data-source]")
    assert rows.count() == 3
    assert sorted(rows.nth(i).get_attribute("data-source") for i in range(3)) == ["hie", "lab", "pharmacy"]

    from ias.models import NetworkQuery, WebhookEvent

    query = NetworkQuery.objects.get(kind="network")
    assert query.status == "completed"
    assert set(query.sources.values_list("records", flat=True)) <= {"fetched", "skipped"}
    assert not WebhookEvent.objects.filter(status="failed").exists()
    from records.models import Snapshot

    assert Snapshot.objects.filter(user=query.user).exists()

    # 7. A converted C-CDA the network holds (a link, no inline data) reads as a page of sections.
    from records.models import Resource

    linked = next(
        r
        for r in Resource.objects.filter(user=query.user, resource_type="DocumentReference").order_by("pk")
        if r.raw["content"][0]["attachment"].get("contentType") == "text/xml"
        and "data" not in r.raw["content"][0]["attachment"]
    )
    page.goto(f"{base}/records/item/{linked.pk}/document/0/read/")
    expect(page.get_by_role("heading", name="Allergies and Adverse Reactions")).to_be_visible()
    shot("09-ccda-from-the-network")
