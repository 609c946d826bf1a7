"""The Celery worker makes sure the ICD-10-CM index exists before its pool forks, so no task builds it."""

import sys

from portal.celery import CodeSetsPreload, app
from records import icd10cm


def test_the_worker_blueprint_has_the_preload_step():
    assert CodeSetsPreload in app.steps["worker"]


def test_building_the_step_builds_the_index_without_loading_the_package(settings, tmp_path, monkeypatch):
    settings.CODE_SETS_DIR = tmp_path
    monkeypatch.delitem(sys.modules, "simple_icd_10_cm", raising=False)
    assert not icd10cm.index_path().exists()
    CodeSetsPreload(parent=object())
    assert icd10cm.index_path().exists()
    assert "simple_icd_10_cm" not in sys.modules
