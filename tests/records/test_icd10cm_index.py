"""ICD-10-CM names come from a small index built from simple-icd-10-cm, with the package's own answers,
so that no process that names a code holds the package's code tree."""

import logging
import subprocess
import sys

import pytest

from records import icd10cm, terminology


@pytest.fixture
def fresh_index_dir(settings, tmp_path, monkeypatch):
    """An empty code-sets folder and no open connection or cached name, as in a new process."""
    settings.CODE_SETS_DIR = tmp_path / "code-sets"
    monkeypatch.setattr(icd10cm, "_local", type(icd10cm._local)())
    terminology.icd10cm_name.cache_clear()
    yield settings.CODE_SETS_DIR
    terminology.icd10cm_name.cache_clear()


def test_every_item_of_the_package_has_the_package_description_under_both_spellings():
    import simple_icd_10_cm as icd

    codes = icd.get_all_codes(with_dots=True)
    assert len(codes) > 90_000
    for code in codes:
        assert icd10cm.description(code) == icd.get_description(code), code
    for dotted, plain in zip(codes, icd.get_all_codes(with_dots=False), strict=True):
        assert icd10cm.description(plain) == icd.get_description(dotted), plain


@pytest.mark.parametrize("code", ["E1.19", "E11.", "", "ZZZ", "E11.9X", "e11.9"])
def test_what_the_package_does_not_know_has_no_description(code):
    import simple_icd_10_cm as icd

    assert not icd.is_valid_item(code)
    assert icd10cm.description(code) == ""


def test_the_index_is_built_once_in_a_child_process_and_then_reused(fresh_index_dir, monkeypatch):
    assert not icd10cm.index_path().exists()
    path = icd10cm.index_ensure()
    assert path.parent == fresh_index_dir and path.exists()
    assert "simple-icd-10-cm" not in path.name and icd10cm.index_path() == path
    built_at = path.stat().st_mtime_ns

    def no_second_build(*args, **kwargs):
        raise AssertionError("the index was built again")

    monkeypatch.setattr(subprocess, "run", no_second_build)
    assert icd10cm.index_ensure() == path
    assert path.stat().st_mtime_ns == built_at
    assert terminology.code_name(terminology.ICD10CM, "I10") == "Essential (primary) hypertension"


def test_a_new_package_version_gets_its_own_index(fresh_index_dir, monkeypatch):
    old = icd10cm.index_path()
    monkeypatch.setattr(icd10cm.importlib.metadata, "version", lambda name: "9.9.9")
    assert icd10cm.index_path() != old and "9.9.9" in icd10cm.index_path().name


def test_naming_a_code_does_not_load_the_package_in_this_process(settings):
    icd10cm.index_ensure()
    probe = (
        "import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings'; django.setup();"
        "from records import terminology as t;"
        "print(t.code_name(t.ICD10CM, 'N18.31')); print('simple_icd_10_cm' in sys.modules)"
    )
    env = {"CODE_SETS_DIR": str(settings.CODE_SETS_DIR), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=str(settings.BASE_DIR), env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["Chronic kidney disease, stage 3a", "False"]


def test_a_failed_build_leaves_codes_unnamed_and_says_so_without_the_code(fresh_index_dir, monkeypatch, caplog):
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(args=a, returncode=1, stdout=b"", stderr=b"")
    )
    with caplog.at_level(logging.WARNING, logger="records.terminology"):
        assert terminology.code_name(terminology.ICD10CM, "E11.9") == ""
    assert "ICD-10-CM index unavailable" in caplog.text
    assert "E11.9" not in caplog.text
    assert not list(fresh_index_dir.glob("*.sqlite3"))
