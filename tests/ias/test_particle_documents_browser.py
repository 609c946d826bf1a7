"""A real browser: Particle's C-CDA documents in the record's documents, each one read as a page."""

import tempfile

import pytest
from django.test import Client

from ias.particle_documents import bundle_with_documents, document_reference, zip_read
from records.models import Resource
from records.services import snapshot_ingest_file
from sandbox.generator import ccda_document
from tests.conftest import mfa_session
from tests.ias.test_particle_documents import zip_of

PATIENT = b'{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"pp1"}}]}'


def particle_documents_ingested(user) -> None:
    data = zip_of(
        (
            "d1.xml",
            ccda_document(
                title="Discharge Summary",
                day="2024-02-11",
                patient="Kam Quark",
                author="Dr Ada",
                custodian="Mercy Clinic",
            ),
        ),
        (
            "d2.xml",
            ccda_document(
                title="Continuity of Care Document",
                day="2023-06-02",
                patient="Kam Quark",
                author="Dr Lee",
                custodian="Northside Family Medicine",
            ),
        ),
    )
    references = [document_reference(f, patient_id="pp1") for f in zip_read(data)]
    raw, _had = bundle_with_documents(PATIENT, references)
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(raw)
        handle.flush()
        snapshot_ingest_file(
            user_id=user.pk,
            path=handle.name,
            network_source="particle",
            network="particle",
            retire=True,
            request_id="s",
        )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_particles_documents_in_a_browser(browser, live_server, screenshot_dir, mfa_user):
    particle_documents_ingested(mfa_user)
    client = mfa_session(Client(), mfa_user)
    browser.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    browser.goto(f"{live_server.url}/records/documents/")
    rows = browser.locator(".record-row")
    assert rows.count() == 2
    assert browser.get_by_text("Discharge Summary").first.is_visible()
    browser.screenshot(path=str(screenshot_dir / "particle-documents-desktop.png"), full_page=True)
    doc = Resource.objects.get(user=mfa_user, network="particle", display="Discharge Summary")
    browser.goto(f"{live_server.url}/records/item/{doc.pk}/")
    facts = " ".join(browser.locator("dl.facts").all_inner_texts())
    assert "Mercy Clinic" in facts and "Particle" in facts
    browser.screenshot(path=str(screenshot_dir / "particle-document-item-desktop.png"), full_page=True)
    browser.goto(f"{live_server.url}/records/item/{doc.pk}/document/0/read/")
    assert browser.get_by_role("heading", name="Allergies and Adverse Reactions").is_visible()
    assert browser.get_by_text("Dated Feb 11, 2024").is_visible()
    browser.screenshot(path=str(screenshot_dir / "particle-document-read-desktop.png"), full_page=True)
    browser.set_viewport_size({"width": 390, "height": 844})
    for name, path in (
        ("documents", "/records/documents/"),
        ("document-item", f"/records/item/{doc.pk}/"),
        ("document-read", f"/records/item/{doc.pk}/document/0/read/"),
    ):
        browser.goto(f"{live_server.url}{path}")
        assert browser.evaluate("document.documentElement.scrollWidth") <= 390, f"{name} scrolls sideways"
        browser.screenshot(path=str(screenshot_dir / f"particle-{name}-phone.png"), full_page=True)
