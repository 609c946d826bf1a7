"""A listing's page is found by its ids first (the rows before it are walked in an index alone): every
page holds exactly the rows that slicing the whole ordered listing gives, in the same order."""

import pytest
from django.db.models import Q

from records import selectors
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("category", "options"),
    [
        ("labs", {}),
        ("labs", {"sort": "oldest"}),
        ("labs", {"sort": "name", "flag": "abnormal"}),
        ("vitals", {}),
        ("conditions", {"sort": "name"}),
    ],
)
def test_every_page_holds_the_rows_of_the_whole_ordered_listing(mfa_user, private_storage_dir, category, options):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    first = selectors.category_list(user=mfa_user, category=category, per_page=5, **options)
    pages = first.page.paginator.num_pages
    assert pages > 1
    shown = [
        item.pk
        for number in range(1, pages + 1)
        for item in selectors.category_list(user=mfa_user, category=category, page=number, per_page=5, **options).items
    ]
    whole = selectors.resources_for(user=mfa_user).filter(category=category, is_primary=True)
    if category == "labs":  # a panel's results are shown inside it
        whole = whole.filter(Q(resource_type="DiagnosticReport") | Q(parent_ref=""))
    if options.get("flag") == "abnormal":
        whole = whole.filter(flag__in=selectors.ABNORMAL_FLAGS)
    order = selectors.SORTS[options.get("sort", "date")]
    assert shown == list(whole.order_by(*order).values_list("pk", flat=True))
    assert len(shown) == first.total
