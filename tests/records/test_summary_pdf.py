"""The PDF summary is a document a clinic can file: who it is about, when it was made, page X of Y,
no heading stranded at the foot of a page, and the usual range beside each result outside it."""

import dataclasses
import io
import json
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from pypdf import PdfReader

from accounts.crypto import encrypt_text
from ias.models import NetworkPatient
from records import exports, selectors

HEADINGS = (
    "Allergies",
    "Active conditions",
    "Conditions whose status was not given",
    "Current medications",
    "Recent results outside the usual range",
    "Immunizations",
    "Recent visits",
)


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture
def journey_details(record_owner):
    NetworkPatient.objects.create(
        user=record_owner,
        facility_id="fac_test",
        demographics_encrypted=encrypt_text(
            json.dumps({"firstName": "Ada", "lastName": "Okafor", "dob": "1961-04-09"})
        ),
    )
    return record_owner


def test_the_pdf_names_the_person_the_date_and_numbers_its_pages(journey_details, client_mfa):
    response = client_mfa.get(reverse("records:summary_pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    pages = [page.extract_text() for page in reader.pages]
    assert "Ada Okafor" in pages[0] and "April 9, 1961" in pages[0]
    today = datetime.now(ZoneInfo("America/New_York")).strftime("%B %-d, %Y")
    assert f"Made {today}" in pages[0]
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "Ada Okafor · born April 9, 1961" in text
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Health record summary for Ada Okafor"
    assert meta.author == "Homeport"
    assert "April 9, 1961" in (meta.subject or "")
    assert reader.root_object["/Lang"] == "en-US"


def test_flagged_results_carry_their_usual_range(journey_details):
    summary = selectors.summary_for(user=journey_details)
    ranged = [item for item in summary.abnormal if exports._usual_range(item) != "Not given"]
    assert ranged, "the generated record has flagged results with reference ranges"
    pdf = exports.summary_pdf(
        summary=summary, person_name="Ada Okafor", birth_date=date(1961, 4, 9), generated_at=datetime(2026, 12, 2)
    )
    text = re.sub(r"\s+", " ", " ".join(_pages(pdf)))
    assert "Usual range" in text
    for item in ranged:
        assert re.sub(r"\s+", " ", exports._usual_range(item)) in text


@pytest.mark.parametrize("extra", range(0, 24, 2))
def test_no_heading_ends_a_page(journey_details, extra):
    summary = selectors.summary_for(user=journey_details)
    filler = (summary.conditions or summary.medications)[:1] * extra
    padded = dataclasses.replace(summary, allergies=summary.allergies + filler)
    pdf = exports.summary_pdf(
        summary=padded, person_name="Ada Okafor", birth_date=date(1961, 4, 9), generated_at=datetime(2026, 12, 2)
    )
    pages = _pages(pdf)
    for text in pages[:-1]:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        body = [line for line in lines if not line.startswith(("Ada Okafor ·", "Made ", "Page "))]
        assert body[-1] not in HEADINGS, f"page ends with the heading {body[-1]!r}"
        assert not body[-1].startswith(("Item Date", "Result Date")), "page ends with a table header"
