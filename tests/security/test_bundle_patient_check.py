"""Item 6 of issue 12: a bundle whose Patient is someone else is refused, and the refusal is
recorded. Metriport's consolidated bundles carry the Metriport patient id as Patient.id (the
sandbox does the same), so that id must equal the person's network patient id."""

import hashlib
import json

import pytest

from ias.models import QuerySource, WebhookEvent
from records.download import Downloaded
from records.models import Resource, Snapshot
from tests.ias.conftest import linked, no_enqueue  # noqa: F401  (fixtures)
from tests.ias.fakes import source_event
from tests.ias.helpers import deliver
from tests.security.bundles import person_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def served(monkeypatch, tmp_path):
    """Serve `bundle` at any link, as the download step would hand it to the ingest."""
    box: dict = {}

    def download(*, url: str, superseded=None) -> Downloaded:
        raw = json.dumps(box["bundle"]).encode()
        path = tmp_path / f"dl-{len(raw)}-{hashlib.sha256(raw).hexdigest()[:8]}.json"
        path.write_bytes(raw)
        return Downloaded(path=str(path), size=len(raw), sha256=hashlib.sha256(raw).hexdigest(), elapsed_ms=1)

    monkeypatch.setattr("records.services.bundle_download", download)
    return box


def test_a_bundle_whose_patient_is_b_is_not_shown_in_cs_record(user, served, no_enqueue):  # noqa: F811
    linked(user, "pat_c")
    served["bundle"] = person_bundle(label="B-Only-Diagnosis", patient_id="pat_b")
    event = deliver(source_event("hie", patient_id="pat_c", request_id="req_c"))
    assert not Resource.objects.filter(user=user).exists()
    assert QuerySource.objects.get(query__request_id="req_c", source_type="hie").records == "failed"
    refused = Snapshot.objects.get(user=user, request_id="req_c")
    assert refused.status == Snapshot.STATUS_FAILED
    assert "another patient" in refused.failure_reason
    assert event.status == WebhookEvent.Status.PROCESSED


def test_a_bundle_without_a_patient_but_with_records_is_refused(user, served, no_enqueue):  # noqa: F811
    linked(user, "pat_c")
    bundle = person_bundle(patient_id="pat_c")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    served["bundle"] = bundle
    deliver(source_event("hie", patient_id="pat_c", request_id="req_c"))
    assert not Resource.objects.filter(user=user).exists()


def test_the_persons_own_bundle_is_ingested(user, served, no_enqueue):  # noqa: F811
    linked(user, "pat_c")
    served["bundle"] = person_bundle(patient_id="pat_c")
    deliver(source_event("hie", patient_id="pat_c", request_id="req_c"))
    assert Resource.objects.filter(user=user, resource_type="Condition").exists()
    assert QuerySource.objects.get(query__request_id="req_c", source_type="hie").records == "fetched"


def test_an_empty_bundle_is_still_accepted(user, served, no_enqueue):  # noqa: F811
    linked(user, "pat_c")
    served["bundle"] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    deliver(source_event("hie", patient_id="pat_c", request_id="req_c"))
    # Accepted (saved, not refused); a bundle with nothing in it reads as "no records found" (issue 10).
    assert QuerySource.objects.get(query__request_id="req_c", source_type="hie").records == "empty"
    from records.models import Snapshot

    assert Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).count() == 1
