"""Linked bundles are stored once, like the network's S3 objects, and every link to one serves that file."""

import gzip
import json
import os
from urllib.parse import urlsplit

import pytest

from sandbox import files, links, records
from sandbox.models import Patient
from tests.sandbox.conftest import webhooks
from tests.sandbox.test_network_query import SOURCES, start


@pytest.fixture
def patient(db):
    return Patient.objects.create(facility_id="fac_test", persona="ordinary", record_size=120)


def count_builds(monkeypatch) -> list[int]:
    """One item per bundle serialised for storing."""
    built: list[int] = []
    real = records.to_gzip

    def counting(bundle):
        built.append(1)
        return real(bundle)

    monkeypatch.setattr(records, "to_gzip", counting)
    return built


def link(patient, sources, *, partial=None, ttl=60.0):
    payload = {"k": "b", "p": patient.id, "s": sources, "f": "json"}
    if partial:
        payload["h"] = partial
    return urlsplit(links.link_make(origin="http://testserver", payload=payload, ttl_seconds=ttl)).path


def test_a_bundle_is_built_once_and_served_again_unchanged(api, patient, settings, monkeypatch):
    built = count_builds(monkeypatch)
    first = api.client.get(link(patient, ["hie", "lab"]), headers={"accept-encoding": "gzip"})
    stored = list(settings.SANDBOX_FILES_ROOT.glob("*.json.gz"))
    assert len(stored) == 1
    mtime = stored[0].stat().st_mtime_ns
    # Another link to the same bundle (sources in another order) serves the same file, not a new build.
    again = api.client.get(link(patient, ["lab", "hie"]), headers={"accept-encoding": "gzip"})
    assert built == [1]
    assert stored[0].stat().st_mtime_ns == mtime
    for got in (first, again):
        assert got.status_code == 200 and got["Content-Type"] == "application/json"
        assert got["Content-Encoding"] == "gzip"
        assert int(got["Content-Length"]) == stored[0].stat().st_size
        assert b"".join(got.streaming_content) == stored[0].read_bytes()
    expected = records.bundle_after_sources(patient, ["hie", "lab"])
    assert json.loads(gzip.decompress(stored[0].read_bytes())) == json.loads(records.to_json(expected))


def test_a_client_without_gzip_gets_the_plain_json(api, patient):
    got = api.client.get(link(patient, ["hie"]))
    assert got.status_code == 200 and got["Content-Type"] == "application/json"
    assert "Content-Encoding" not in got
    assert json.loads(got.content) == json.loads(records.to_json(records.bundle_after_sources(patient, ["hie"])))


def test_a_newer_version_is_a_new_file_and_the_older_stays(api, patient, settings):
    older = json.loads(api.client.get(link(patient, ["hie"])).content)
    [older_file] = settings.SANDBOX_FILES_ROOT.glob("*.json.gz")
    older_bytes = older_file.read_bytes()
    newer = json.loads(api.client.get(link(patient, ["hie", "pharmacy"])).content)
    half = json.loads(api.client.get(link(patient, [], partial=["hie"])).content)
    assert len(list(settings.SANDBOX_FILES_ROOT.glob("*.json.gz"))) == 3
    assert len(half["entry"]) < len(older["entry"]) < len(newer["entry"])
    assert older_file.read_bytes() == older_bytes
    assert json.loads(api.client.get(link(patient, ["hie"])).content) == older


def test_changed_patient_details_make_a_new_file(patient):
    before = files.bundle_file_name(patient=patient, sources=["hie"])
    patient.demographics = {**(patient.demographics or {}), "firstName": "Renamed"}
    assert files.bundle_file_name(patient=patient, sources=["hie"]) != before


def test_expiry_is_still_enforced_on_a_stored_bundle(api, patient, settings):
    assert api.client.get(link(patient, ["hie"])).status_code == 200
    assert len(list(settings.SANDBOX_FILES_ROOT.glob("*.json.gz"))) == 1
    expired = api.client.get(link(patient, ["hie"], ttl=-1))
    assert expired.status_code == 403 and b"Request has expired" in expired.content


def test_a_swept_file_is_built_again_for_a_link_still_valid(api, patient, settings):
    path = link(patient, ["hie"])
    first = api.client.get(path).content
    [stored] = settings.SANDBOX_FILES_ROOT.glob("*.json.gz")
    os.utime(stored, (0, 0))
    assert files.bundle_files_sweep(older_than_seconds=60) == 1
    assert not stored.exists()
    assert api.client.get(path).content == first
    assert stored.exists()


def test_the_network_stores_each_bundle_when_it_links_it(
    api, ias_ready, eager, settings, monkeypatch, django_capture_on_commit_callbacks
):
    built = count_builds(monkeypatch)
    patient_json, identity_id, aal2_id = ias_ready()
    with django_capture_on_commit_callbacks(execute=True):
        assert start(api, patient_json["id"], identity_id, aal2_id, sources=SOURCES).status_code == 200
    hooks = webhooks("network-query.")
    assert len(hooks) == 4
    assert len(built) == 4, "one file per linked bundle, written before its webhook went out"
    for hook in hooks:
        got = api.client.get(urlsplit(hook["payload"]["consolidatedDataUrl"]).path, headers={"accept-encoding": "gzip"})
        assert got.status_code == 200
    assert len(built) == 4, "downloads serve the stored files"
    assert len(list(settings.SANDBOX_FILES_ROOT.glob("*.json.gz"))) == 4


def test_no_file_is_built_for_a_link_born_expired(api, ias_ready, eager, settings, django_capture_on_commit_callbacks):
    settings.SANDBOX_FAULTS = ["expired_link"]
    patient_json, identity_id, aal2_id = ias_ready()
    with django_capture_on_commit_callbacks(execute=True):
        assert start(api, patient_json["id"], identity_id, aal2_id, sources=SOURCES).status_code == 200
    assert len(webhooks("network-query.")) == 4
    assert not list(settings.SANDBOX_FILES_ROOT.glob("*.json.gz"))
