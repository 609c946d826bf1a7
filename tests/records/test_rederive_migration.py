"""Stored rows get the new categories and names without a new download."""

import importlib

import pytest
from django.apps import apps

from records.models import Resource

migration = importlib.import_module("records.migrations.0006_rederive_categories_and_names")


@pytest.mark.django_db
def test_rows_filed_under_no_page_and_code_only_names_are_re_derived(mfa_user):
    def row(rid: str, raw: dict, category: str, display: str) -> Resource:
        return Resource.objects.create(
            user=mfa_user,
            resource_type=raw["resourceType"],
            resource_id=rid,
            raw=raw,
            content_hash="x",
            category=category,
            display=display,
        )

    family = row("f1", {"resourceType": "FamilyMemberHistory", "condition": [{"code": {"text": "Gout"}}]}, "other", "")
    condition = row(
        "c1",
        {"resourceType": "Condition", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "40930008"}]}},
        "conditions",
        "SNOMED CT 40930008",
    )
    named = row("c2", {"resourceType": "Condition", "code": {"text": "Gout"}}, "conditions", "Gout, as stored")
    migration.rederive(apps, None)
    family.refresh_from_db()
    condition.refresh_from_db()
    named.refresh_from_db()
    assert (family.category, family.display) == ("family", "Family member (relation not given): Gout")
    assert condition.display == "Underactive thyroid (hypothyroidism)"
    assert named.display == "Gout, as stored"
