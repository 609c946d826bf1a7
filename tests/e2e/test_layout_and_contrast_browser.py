"""Every patient-facing page on a 390 px phone: nothing scrolls sideways, and axe-core finds no
colour-contrast failure (other serious or critical findings are printed). Screenshots at 390 px and
1280 px are kept. axe-core is installed from the npm registry into `.data/` on first use."""

import re

import pytest
from django.conf import settings
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from accounts.models import User
from ias.models import IdentityVerification, NetworkQuery, QuerySource
from records.fhir import CATEGORY_LABELS
from records.models import Resource
from tests.conftest import mfa_session
from tests.e2e.axe import axe_script, axe_violations
from tests.ias.conftest import aal2_passed, consented, linked, verified
from tests.records.conftest import ingest_bundle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _people(make_mfa_client, record_owner) -> dict[str, object]:
    """One person per place in the journey, and one with a record."""

    def _person(_label: str) -> User:
        return User.objects.get(pk=make_mfa_client().session["_auth_user_id"])

    fresh = _person("fresh")
    at_details = consented(_person("details"))
    at_identity = _person("identity")
    linked(at_identity, patient_id="pat_identity")
    waiting = _person("waiting")
    linked(waiting, patient_id="pat_waiting")
    IdentityVerification.objects.create(user=waiting, session_id="ids_waiting", status="pending")
    at_check = _person("check")
    verified(at_check, patient_id="pat_check")
    at_search = _person("search")
    verified(at_search, patient_id="pat_search")
    aal2_passed(at_search)
    searching = _person("searching")
    verified(searching, patient_id="pat_searching")
    query = NetworkQuery.objects.create(user=searching, request_id="req_layout", status="processing")
    QuerySource.objects.create(query=query, source_type="hie", status="completed", completed_at=timezone.now())
    QuerySource.objects.create(query=query, source_type="pharmacy", status="processing")
    QuerySource.objects.create(query=query, source_type="lab", status="failed", reason="The lab did not answer.")
    return {
        "fresh": fresh,
        "details": at_details,
        "identity": at_identity,
        "waiting": waiting,
        "check": at_check,
        "search": at_search,
        "searching": searching,
        "owner": record_owner,
        "query": query,
    }


def _pages(people, record_owner) -> list[tuple[str, str | None, str]]:
    """(name, person or None for signed out, path)."""
    lab = (
        Resource.objects.filter(user=record_owner, category="labs", value_num__isnull=False, is_primary=True)
        .values("code", "value_unit")
        .annotate(n=Count("id"))
        .order_by("-n", "code")
        .first()
    )
    assert lab is not None
    trend_item = (
        Resource.objects.filter(user=record_owner, is_primary=True, code=lab["code"], value_unit=lab["value_unit"])
        .order_by("-clinical_date")
        .first()
    )
    assert trend_item is not None
    pages = [
        ("landing", None, "/"),
        ("signup", None, "/accounts/signup/"),
        ("login", None, "/accounts/login/"),
        ("privacy", None, "/privacy/"),
        ("home-new", "fresh", "/"),
        ("journey-consent", "fresh", "/journey/consent/"),
        ("journey-details", "details", "/journey/details/"),
        ("journey-identity", "identity", "/journey/identity/"),
        ("journey-identity-wait", "waiting", "/journey/identity/wait/"),
        ("journey-check", "check", "/journey/check/"),
        ("journey-search", "search", "/journey/search/"),
        ("journey-progress", "searching", f"/journey/search/{people['query'].public_id}/"),
        ("home-owner", "owner", "/"),
        ("record-summary", "owner", "/records/"),
    ]
    pages += [(f"record-{slug}", "owner", f"/records/{slug}/") for slug in CATEGORY_LABELS]
    pages += [
        ("record-item", "owner", f"/records/item/{trend_item.pk}/"),
        ("record-trend", "owner", f"/records/item/{trend_item.pk}/trend/"),
        ("record-timeline", "owner", "/records/timeline/"),
        ("record-access", "owner", "/records/access/"),
        ("record-downloads", "owner", "/records/downloads/"),
        ("record-print", "owner", "/records/print/"),
        ("account", "owner", "/account/"),
        ("privacy-signed-in", "owner", "/privacy/"),
    ]
    return pages


@pytest.fixture
def record_owner(mfa_user, private_storage_dir):
    from sandbox.generator import generate_bundle

    ingest_bundle(mfa_user, generate_bundle(seed="layout", size=600))
    return mfa_user


def test_every_page_fits_a_phone_and_passes_contrast(
    browser_instance, live_server, make_mfa_client, record_owner, screenshot_dir
):
    axe = axe_script()
    verified(record_owner, patient_id="pat_owner")
    people = _people(make_mfa_client, record_owner)
    sessions: dict[str, str] = {}
    for key, person in people.items():
        if key != "query":
            sessions[key] = mfa_session(Client(), person).cookies[settings.SESSION_COOKIE_NAME].value

    too_wide: list[str] = []
    contrast: list[str] = []
    serious: list[str] = []
    for viewport in (PHONE, DESKTOP):
        for name, who, path in _pages(people, record_owner):
            context = browser_instance.new_context(viewport=viewport, bypass_csp=True)
            if who:
                context.add_cookies(
                    [{"name": settings.SESSION_COOKIE_NAME, "value": sessions[who], "url": live_server.url}]
                )
            page = context.new_page()
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, f"{name}: {path} answered {response.status}"
            assert re.sub(r"\?.*", "", page.url).endswith(path), f"{name}: {path} went to {page.url}"
            page.screenshot(path=str(screenshot_dir / f"layout-{viewport['width']}-{name}.png"), full_page=True)
            if viewport is PHONE:
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > PHONE["width"]:
                    too_wide.append(f"{name} ({path}): {width} px")
                for violation in axe_violations(page, axe):
                    line = f"{name} ({path}): {violation['id']} [{violation['impact']}] {violation['nodes']}"
                    if violation["id"] == "color-contrast":
                        contrast.append(line)
                    elif violation["impact"] in ("serious", "critical"):
                        serious.append(line)
            context.close()

    print("\nOther serious accessibility findings:" if serious else "\nNo other serious accessibility findings.")
    for line in serious:
        print("  " + line)
    for line in contrast:
        print("  contrast: " + line)
    assert not too_wide and not contrast, (
        "pages wider than 390 px: " + "; ".join(too_wide) + "\ncolour contrast failures:\n" + "\n".join(contrast)
    )
