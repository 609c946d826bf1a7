"""axe-core finds no critical or serious violation on the admin pages staff use, and they fit 1280 px.

axe-core is installed from the npm registry into `.data/` on first use (like Metriport's SDK in
tests/sandbox/test_metriport_sdk.py) and injected into each page with Playwright."""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.e2e.axe import axe_script, axe_violations
from tests.e2e.test_staff_console_browser import signed_in
from tests.ias import conftest as ias_fixtures
from tests.portal.staff_story import person_story
from tests.records.sharing_helpers import make_share

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

network = ias_fixtures.network


def _serious(page, script: Path) -> list[dict]:
    return [v for v in axe_violations(page, script) if v["impact"] in ("critical", "serious")]


def test_the_admin_pages_staff_use_have_no_serious_violation(
    browser_instance, live_server, screenshot_dir, staff_user, mfa_user, network
):
    script = axe_script()
    story = person_story(mfa_user, network=network)
    share = make_share(mfa_user).share
    pages = [
        reverse("admin:index"),
        reverse("admin:accounts_user_changelist") + "?q=pharmacyfail",
        reverse("admin:accounts_user_changelist") + "?sign_in=locked",
        reverse("admin:accounts_user_change", args=[mfa_user.pk]),
        reverse("admin:accounts_user_access_reason", args=[mfa_user.pk]) + "?next=/admin/",
        reverse("admin:accounts_user_journey", args=[mfa_user.pk]),
        reverse("admin:ias_webhookevent_changelist") + f"?person={mfa_user.pk}",
        reverse("admin:ias_webhookevent_changelist") + "?status__exact=failed",
        reverse("admin:ias_webhookevent_change", args=[story.event.pk]),
        reverse("admin:ias_networkpatient_change", args=[story.link.pk]),
        reverse("admin:ias_networkquery_changelist"),
        reverse("admin:ias_networkquery_change", args=[story.query.pk]),
        reverse("admin:records_snapshot_change", args=[story.snapshot.pk]),
        reverse("admin:records_resource_changelist"),
        reverse("admin:accounts_accesslogentry_changelist"),
        reverse("admin:accounts_emailsent_changelist"),
        reverse("admin:records_share_changelist"),
        reverse("admin:records_share_change", args=[share.pk]),
        reverse("admin:sandbox_fault_add"),
    ]
    found = {}
    for width in (1280, 390):
        context = signed_in(browser_instance, live_server, staff_user, width=width, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{live_server.url}{reverse('admin:accounts_user_access_reason', args=[mfa_user.pk])}?next=/admin/")
        page.get_by_label("The person asked support for help").check()
        page.get_by_role("button", name="Continue").click()
        for path in pages:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, path
            slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
            page.screenshot(path=str(screenshot_dir / f"admin-{width}-{slug}.png"), full_page=True)
            violations = _serious(page, script)
            if width == 1280 and page.evaluate("document.documentElement.scrollWidth") > width:
                violations.append({"id": "wider-than-the-screen", "impact": "serious", "nodes": []})
            if violations:
                found[f"{width} {path}"] = violations
        context.close()
    (screenshot_dir / "admin-axe-violations.json").write_text(json.dumps(found, indent=1))
    assert found == {}, json.dumps(found, indent=1)
