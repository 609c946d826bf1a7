"""Fault injection: per patient or global, from the admin's Fault rows or the SANDBOX_FAULTS setting."""

import json
from urllib.parse import urlsplit

from sandbox import tasks
from sandbox.conf import FaultSpec, parse_fault
from sandbox.models import Fault, Patient
from tests.sandbox.conftest import webhooks
from tests.sandbox.test_api_patients import problem


def run_query(api, patient, identity_id, aal2_id, sources=("hie", "pharmacy", "lab")):
    return api.post(
        f"/medical/v1/network/query?patientId={patient['id']}&purposeOfUse=ias",
        {"sources": list(sources), "proofedIdentityId": identity_id},
        headers={"x-aal2-session": aal2_id},
    )


def test_parse_fault_strings():
    assert parse_fault("source_fail:pharmacy") == FaultSpec("source_fail", "pharmacy", 5.0)
    assert parse_fault("delay@10") == FaultSpec("delay", "", 10.0)
    assert parse_fault("drop:network-query.lab@1") == FaultSpec("drop", "network-query.lab", 1.0)


def test_api_5xx_is_scoped_to_its_patient(api, make_patient):
    sick, healthy = make_patient(), make_patient()
    Fault.objects.create(kind="api_5xx", patient=Patient.objects.get(pk=sick["id"]))
    problem(api.get(f"/medical/v1/patient/{sick['id']}"), 503)
    assert api.get(f"/medical/v1/patient/{healthy['id']}").status_code == 200


def test_global_faults_from_settings(api, make_patient, settings):
    patient = make_patient()
    settings.SANDBOX_FAULTS = ["api_5xx"]
    problem(api.get(f"/medical/v1/patient/{patient['id']}"), 503)
    settings.SANDBOX_FAULTS = "api_slow@0.05"
    assert api.get(f"/medical/v1/patient/{patient['id']}").status_code == 200


def test_a_disabled_fault_does_nothing(api, make_patient):
    patient = make_patient()
    Fault.objects.create(kind="api_5xx", enabled=False)
    assert api.get(f"/medical/v1/patient/{patient['id']}").status_code == 200


def test_a_failing_source(api, ias_ready, eager, django_capture_on_commit_callbacks):
    patient, identity_id, aal2_id = ias_ready()
    Fault.objects.create(kind="source_fail", target="lab", patient=Patient.objects.get(pk=patient["id"]))
    with django_capture_on_commit_callbacks(execute=True):
        request_id = run_query(api, patient, identity_id, aal2_id).json()["requestId"]
    body = api.get(f"/medical/v1/network/query/{request_id}").json()
    assert body["status"] == "partial"
    assert webhooks("network-query.lab")[0]["payload"]["source"]["status"] == "failed"


def test_every_source_failing_is_a_failed_query(api, ias_ready, eager, django_capture_on_commit_callbacks):
    patient, identity_id, aal2_id = ias_ready()
    Fault.objects.create(kind="source_fail")
    with django_capture_on_commit_callbacks(execute=True):
        request_id = run_query(api, patient, identity_id, aal2_id).json()["requestId"]
    assert api.get(f"/medical/v1/network/query/{request_id}").json()["status"] == "failed"
    assert webhooks("network-query.hie.first-data-ready") == []


def test_expired_links(api, ias_ready, eager, django_capture_on_commit_callbacks):
    patient, identity_id, aal2_id = ias_ready()
    Fault.objects.create(kind="expired_link")
    with django_capture_on_commit_callbacks(execute=True):
        run_query(api, patient, identity_id, aal2_id, sources=["lab"])
    url = webhooks("network-query.lab")[0]["payload"]["consolidatedDataUrl"]
    got = api.client.get(urlsplit(url).path)
    assert got.status_code == 403 and b"expired" in got.content


def test_delay_and_out_of_order_schedule_deliveries_later(
    api, ias_ready, scheduled, django_capture_on_commit_callbacks
):
    """Out-of-order: each source's webhook waits longer the more sources are still running."""
    patient, identity_id, aal2_id = ias_ready()
    Fault.objects.create(kind="out_of_order", seconds=10)
    Fault.objects.create(kind="delay", seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        run_query(api, patient, identity_id, aal2_id)
    from sandbox.models import NetworkQuerySource

    for row in NetworkQuerySource.objects.order_by("order"):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.network_query_source_complete.apply(args=[row.pk])
    from sandbox.models import WebhookDelivery

    types = {d.pk: d.type for d in WebhookDelivery.objects.all()}
    by_type = {types[args[0]]: countdown for name, args, countdown in scheduled if name == "webhook_deliver"}
    assert by_type["network-query.hie"] == 21 and by_type["network-query.pharmacy"] == 11
    assert by_type["network-query.lab"] == 1
    assert json.loads(WebhookDelivery.objects.get(type="network-query.lab").body)["meta"]["type"] == "network-query.lab"
