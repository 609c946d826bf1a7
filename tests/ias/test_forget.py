"""network_patient_forget: everything ias holds goes, and the network deletion is durable."""

import httpx
import pytest

from ias import patients, queries
from ias.models import (
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    PatientDeletion,
    WebhookEvent,
)
from ias.network import SourceChoice
from tests.ias.conftest import aal2_passed, verified
from tests.ias.fakes import source_event
from tests.ias.helpers import store

pytestmark = pytest.mark.django_db


def test_forget_removes_rows_and_bodies_and_schedules_the_deletion(
    mfa_user, other_user, network, no_enqueue, django_capture_on_commit_callbacks
):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice())
    assert query.request_id is not None
    store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    verified(other_user, "pat_2")
    theirs = store(source_event("hie", patient_id="pat_2", request_id="req_other"))
    with django_capture_on_commit_callbacks(execute=True):
        patients.network_patient_forget(user_id=mfa_user.pk)
    assert not NetworkPatient.objects.filter(user=mfa_user).exists()
    assert not NetworkQuery.objects.filter(user=mfa_user).exists()
    assert not IdentityVerification.objects.filter(user=mfa_user).exists()
    assert not Aal2Challenge.objects.filter(user=mfa_user).exists()
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [theirs.pk]
    deletion = PatientDeletion.objects.get()
    assert deletion.network_patient_id == "pat_1"
    assert ("ias.patient_delete_at_network", {"deletion_id": deletion.pk}) in no_enqueue


def test_deletion_at_the_network_succeeds_and_404_counts_as_done(network):
    first = PatientDeletion.objects.create(network_patient_id="pat_1", facility_id="f")
    assert patients.patient_delete_at_network(deletion_id=first.pk).status == "done"
    assert network.calls_to("DELETE", "/medical/v1/patient/pat_1")[0][2] == {"facilityId": "f"}
    network.on("DELETE", "/medical/v1/patient/pat_2", httpx.Response(404, json={"status": 404}))
    second = PatientDeletion.objects.create(network_patient_id="pat_2", facility_id="f")
    assert patients.patient_delete_at_network(deletion_id=second.pk).status == "done"


def test_deletion_stays_pending_while_the_network_is_down(network):
    from ias.network import NetworkTransientError

    network.on("DELETE", "/medical/v1/patient/", httpx.Response(503))
    deletion = PatientDeletion.objects.create(network_patient_id="pat_1", facility_id="f")
    with pytest.raises(NetworkTransientError):
        patients.patient_delete_at_network(deletion_id=deletion.pk)
    deletion.refresh_from_db()
    assert (deletion.status, deletion.attempts) == ("pending", 1)
    assert "503" in deletion.last_error
