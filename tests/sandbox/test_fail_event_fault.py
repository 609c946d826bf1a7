"""The `fail_event` fault: the bundle links in the chosen webhooks answer 500 (expired or not) while
the fault is on, and answer again once it is removed, so a staff replay can succeed."""

from urllib.parse import urlsplit

from django.test import override_settings

from sandbox.conf import FaultSpec, parse_fault
from sandbox.models import Fault, Patient
from tests.sandbox.conftest import webhooks
from tests.sandbox.test_faults import run_query


def _link_path(event_type: str) -> str:
    return urlsplit(webhooks(event_type)[0]["payload"]["consolidatedDataUrl"]).path


def test_parse_fail_event():
    assert parse_fault("fail_event:network-query.hie") == FaultSpec("fail_event", "network-query.hie", 5.0)


def test_only_the_targeted_webhooks_links_fail_until_the_fault_is_removed(
    api, ias_ready, eager, django_capture_on_commit_callbacks
):
    patient, identity_id, aal2_id = ias_ready()
    fault = Fault.objects.create(
        kind="fail_event", target="network-query.hie", patient=Patient.objects.get(pk=patient["id"])
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_query(api, patient, identity_id, aal2_id)
    hie, lab = _link_path("network-query.hie"), _link_path("network-query.lab")

    failing = api.client.get(hie)
    assert failing.status_code == 500 and b"InternalError" in failing.content
    assert api.client.get(lab).status_code == 200

    fault.enabled = False
    fault.save()
    answered = api.client.get(hie)
    assert answered.status_code == 200 and answered.json()["resourceType"] == "Bundle"


def test_an_expired_link_still_fails_while_the_fault_is_on(api, ias_ready, eager, django_capture_on_commit_callbacks):
    patient, identity_id, aal2_id = ias_ready()
    with override_settings(SANDBOX_LINK_TTL_SECONDS=-1), django_capture_on_commit_callbacks(execute=True):
        run_query(api, patient, identity_id, aal2_id, sources=["lab"])
    path = _link_path("network-query.lab")
    assert api.client.get(path).status_code == 403
    Fault.objects.create(kind="fail_event")
    assert api.client.get(path).status_code == 500


def test_the_fault_applies_to_consolidated_data_links(api, make_patient, eager, django_capture_on_commit_callbacks):
    patient = make_patient()
    Fault.objects.create(kind="fail_event", target="medical.consolidated-data")
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/medical/v1/patient/{patient['id']}/consolidated/query?conversionType=json")
    body = webhooks("medical.consolidated-data")[0]
    entries = body["patients"][0]["bundle"]["entry"]
    url = entries[0]["resource"]["content"][0]["attachment"]["url"]
    assert api.client.get(urlsplit(url).path).status_code == 500
