"""A real browser reads the summary and a trend page; screenshots are kept for people to look at."""

import pytest
from django.test import Client

from records.models import Resource
from tests.conftest import mfa_session


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_summary_and_trend_in_a_browser(browser, live_server, screenshot_dir, record_owner):
    client = mfa_session(Client(), record_owner)
    cookie = client.cookies["sessionid"]
    browser.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    browser.goto(f"{live_server.url}/records/")
    assert browser.get_by_role("heading", name="Your health record").is_visible()
    assert browser.get_by_role("heading", name="Allergies").is_visible()
    browser.screenshot(path=str(screenshot_dir / "records-summary.png"), full_page=True)
    from django.db.models import Count

    busiest_code = (
        Resource.objects.filter(user=record_owner, category="labs", value_num__isnull=False, is_primary=True)
        .values("code", "value_unit")
        .annotate(n=Count("id"))
        .order_by("-n", "code")
        .first()
    )
    assert busiest_code is not None
    busiest = (
        Resource.objects.filter(
            user=record_owner, is_primary=True, code=busiest_code["code"], value_unit=busiest_code["value_unit"]
        )
        .order_by("-clinical_date")
        .first()
    )
    assert busiest is not None
    browser.goto(f"{live_server.url}/records/item/{busiest.pk}/trend/")
    assert browser.locator("svg.chart").is_visible()
    assert browser.locator("table.table tbody tr").count() >= 1
    browser.screenshot(path=str(screenshot_dir / "records-trend.png"), full_page=True)
