"""Staff can see every sandbox model in the admin and resend a delivery."""

import pytest

from sandbox.models import Fault, WebhookDelivery

MODELS = [
    "accountsettings",
    "patient",
    "identitysession",
    "proofedidentity",
    "aal2challenge",
    "aal2session",
    "networkquery",
    "consolidatedquery",
    "documentjob",
    "webhookdelivery",
    "fault",
]


@pytest.mark.parametrize("model", MODELS)
def test_changelists_render(staff_client_mfa, make_patient, model):
    make_patient()
    Fault.objects.create(kind="duplicate")
    assert staff_client_mfa.get(f"/admin/sandbox/{model}/").status_code == 200


def test_resend_action(staff_client_mfa, receiver):
    delivery = WebhookDelivery.objects.create(
        type="medical.test", url=receiver.url, body='{"meta":{}}', status="failed"
    )
    response = staff_client_mfa.post(
        "/admin/sandbox/webhookdelivery/", {"action": "resend", "_selected_action": [delivery.pk]}
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(receiver.requests) == 1
