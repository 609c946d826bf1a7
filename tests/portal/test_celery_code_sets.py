"""The Celery worker loads the ICD-10-CM code set before its pool forks, so no task pays for it."""

import sys

from portal.celery import CodeSetsPreload, app


def test_the_worker_blueprint_has_the_preload_step():
    assert CodeSetsPreload in app.steps["worker"]


def test_building_the_step_loads_the_code_set(monkeypatch):
    monkeypatch.delitem(sys.modules, "simple_icd_10_cm", raising=False)
    CodeSetsPreload(parent=object())
    assert "simple_icd_10_cm" in sys.modules
    assert sys.modules["simple_icd_10_cm"].get_description("E11.9") == "Type 2 diabetes mellitus without complications"
