"""A browser reads eGFR and blood pressure trends, US-unit vitals, an instant near midnight and the
account preferences, at desktop and phone widths; screenshots are kept under .data/shots/."""

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from records.models import Resource
from tests.conftest import mfa_session
from tests.records.conftest import ingest_bundle
from tests.records.converter_shapes import blood_pressure, bundle, network_tag, observation, organization

SHOTS = Path(__file__).resolve().parents[2] / ".data" / "shots"
WIDTHS = {"desktop": 1280, "phone": 390}


def _record() -> dict:
    resources: list[dict] = [organization("org-h", "Riverside Community Hospital")]
    for index, (value, year) in enumerate(((72, 2019), (66, 2020), (61, 2021), (57, 2022), (54, 2023), (58, 2024))):
        egfr = observation(
            f"egfr{index}",
            loinc="33914-3",
            display="Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma",
            value=value,
            unit="mL/min/{1.73_m2}",
            when=f"{year}-05-0{index + 1}T14:20:00.000Z",
            meta=network_tag("hie"),
        )
        egfr["referenceRange"] = [{"low": {"value": 60, "unit": "mL/min/{1.73_m2}", "code": "mL/min/{1.73_m2}"}}]
        egfr["performer"] = [{"reference": "Organization/org-h"}]
        resources.append(egfr)
    for index, (high, low, year) in enumerate(((128, 82, 2021), (135, 88, 2022), (142, 91, 2023), (131, 84, 2024))):
        resources.append(blood_pressure(f"bp{index}", systolic=high, diastolic=low, when=f"{year}-06-10T16:05:00.000Z"))
    vital: dict[str, Any] = {"category": "vital-signs", "when": "2024-06-10T16:05:00.000Z"}
    resources += [
        observation("wt", loinc="29463-7", display="Body weight", value=81.2, unit="kg", **vital),
        observation("ht", loinc="8302-2", display="Body height", value=175.3, unit="cm", **vital),
        observation("bmi", loinc="39156-5", display="Body mass index", value=26.4, unit="kg/m2", **vital),
        observation("tmp", loinc="8310-5", display="Body temperature", value=37.1, unit="Cel", **vital),
        observation("hr", loinc="8867-4", display="Heart rate", value=72, unit="/min", **vital),
        observation(
            "wbc", loinc="6690-2", display="Leukocytes", value=7.4, unit="10*3/uL", when="2024-03-02T04:30:00.000Z"
        ),
    ]
    return bundle(*resources)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_times_units_and_preferences_in_a_browser(browser, live_server, mfa_user, private_storage_dir):
    SHOTS.mkdir(parents=True, exist_ok=True)
    mfa_user.time_zone = "America/Chicago"
    mfa_user.save(update_fields=["time_zone"])
    ingest_bundle(mfa_user, _record())
    client = mfa_session(Client(), mfa_user)
    browser.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )

    def pk(rid: str) -> int:
        return Resource.objects.get(user=mfa_user, resource_id=rid).pk

    pages = {
        "egfr-trend": (f"/records/item/{pk('egfr5')}/trend/", "mL/min/1.73 m²"),
        "bp-trend": (f"/records/item/{pk('bp3')}/trend/", "Blood pressure over time"),
        "summary-vitals": ("/records/", "5 ft 9 in"),
        "item-near-midnight": (f"/records/item/{pk('wbc')}/", "Mar 1, 2024, 10:30 PM CST"),
        "account-preferences": ("/account/", "Units for weight, height and temperature"),
    }
    for name, (path, expected) in pages.items():
        for label, width in WIDTHS.items():
            browser.set_viewport_size({"width": width, "height": 900})
            browser.goto(f"{live_server.url}{path}")
            assert browser.get_by_text(expected).first.is_visible(), (name, expected)
            browser.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    overflow = browser.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow
