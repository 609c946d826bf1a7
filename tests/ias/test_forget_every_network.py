"""Deleting an account deletes the person at every network they were registered with."""

import pytest

from ias import particle, patients
from ias.models import NetworkPatient, PatientDeletion
from ias.network import Address, PatientDetails, network_for
from sandbox.models import ParticlePatient
from tests.ias.conftest import verified
from tests.sandbox.particle_helpers import DjangoTransport, particle_through_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(settings):
    particle_through_sandbox(settings)
    particle.use_transport(DjangoTransport())
    yield
    particle.use_transport(None)


def test_forget_schedules_one_deletion_per_network_and_particle_deletes_its_patient(
    mfa_user, network, both, no_enqueue, django_capture_on_commit_callbacks
):
    verified(mfa_user, "pat_1")
    details = PatientDetails(
        first_name="Mia",
        last_name="Mfa",
        dob="1980-02-03",
        gender_at_birth="F",
        address=Address(line1="1 Main St", city="Springfield", state="IL", zip="62704"),
    )
    ref = network_for("particle").patient_register(facility_id="", details=details, external_id=f"hp-{mfa_user.pk}")
    NetworkPatient.objects.create(user=mfa_user, network="particle", patient_id=ref.patient_id)
    with django_capture_on_commit_callbacks(execute=True):
        patients.network_patient_forget(user_id=mfa_user.pk)
    assert not NetworkPatient.objects.filter(user=mfa_user).exists()
    rows = {(d.network, d.network_patient_id) for d in PatientDeletion.objects.all()}
    assert rows == {("metriport", "pat_1"), ("particle", ref.patient_id)}
    assert len([name for name, _kwargs in no_enqueue if name.endswith("patient_delete_at_network")]) == 2

    at_particle = PatientDeletion.objects.get(network="particle")
    assert ParticlePatient.objects.filter(pk=ref.patient_id).exists()
    done = patients.patient_delete_at_network(deletion_id=at_particle.pk)
    assert done.status == PatientDeletion.Status.DONE
    assert not ParticlePatient.objects.filter(pk=ref.patient_id).exists()
    assert patients.patient_delete_at_network(deletion_id=at_particle.pk).status == PatientDeletion.Status.DONE


def test_the_same_patient_id_at_two_networks_is_two_deletions():
    PatientDeletion.objects.create(network="metriport", network_patient_id="same", facility_id="f")
    PatientDeletion.objects.create(network="particle", network_patient_id="same", facility_id="")
    assert PatientDeletion.objects.filter(network_patient_id="same").count() == 2
