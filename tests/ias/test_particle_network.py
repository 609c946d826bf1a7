"""Particle behind the network seam, against the sandbox's Particle through the whole Django stack."""

import pytest

from ias import particle
from ias.network import (
    Address,
    NetworkPermanentError,
    NetworkTransientError,
    PatientDetails,
    PatientRef,
    QueryRequest,
    network_for,
)
from ias.particle_network import ParticleNetwork
from sandbox.models import Fault, ParticlePatient
from tests.sandbox.particle_helpers import DjangoTransport, advance, particle_through_sandbox

DETAILS = PatientDetails(
    first_name="Kam",
    last_name="Quark-Nucleus",
    dob="1954-12-01",
    gender_at_birth="F",
    address=Address(line1="999 Dev Drive", city="Brooklyn", state="NY", zip="11111"),
    phone="234-567-8910",
)


@pytest.fixture
def seam(db, settings):
    particle_through_sandbox(settings)
    settings.SANDBOX_PARTICLE_STATUS_404_SECONDS = 0.0
    particle.use_transport(DjangoTransport())
    yield network_for("particle")
    particle.use_transport(None)


def test_network_for_answers_particle_with_the_operators_purpose(seam, settings):
    assert isinstance(seam, ParticleNetwork)
    assert (seam.key, seam.label, seam.offers_identity, seam.purpose_of_use) == (
        "particle",
        "Particle",
        False,
        "TREATMENT",
    )
    settings.HOMEPORT_NETWORKS = ["metriport"]
    with pytest.raises(LookupError):
        network_for("particle")


def test_register_update_query_and_delete(seam):
    ref = seam.patient_register(facility_id="", details=DETAILS, external_id="hp-1")
    stored = ParticlePatient.objects.get(pk=ref.patient_id)
    assert stored.external_id == "hp-1" and stored.demographics["telephone"] == "234-567-8910"
    moved = PatientDetails(
        **{
            **{f: getattr(DETAILS, f) for f in DETAILS.__struct_fields__},
            "address": Address(line1="1 New St", city="Queens", state="NY", zip="11375"),
        }
    )
    seam.patient_update(patient=ref, details=moved, external_id="hp-1")
    assert ParticlePatient.objects.get(pk=ref.patient_id).demographics["address_city"] == "Queens"

    started = seam.query_start(request=QueryRequest(patient_id=ref.patient_id, sources=["hie"], query_ref="q-1"))
    assert started.request_id.startswith(f"{ref.patient_id}:")
    assert [(s.source_type, s.state) for s in started.sources] == [("all", "processing")]
    query_id = started.request_id.split(":", 1)[1]
    advance(query_id, to="running")
    assert seam.query_status(request_id=started.request_id).sources[0].state == "processing"
    advance(query_id, to="finished")
    done = seam.query_status(request_id=started.request_id)
    assert done.sources[0].state == "completed" and done.refusals == []
    assert seam.records_status(patient_id=ref.patient_id, request_id="").state == "completed"

    seam.patient_delete(patient=ref)
    assert not ParticlePatient.objects.filter(pk=ref.patient_id).exists()
    seam.patient_delete(patient=ref)


def test_a_failed_query_is_a_refusal_in_plain_words(seam):
    Fault.objects.create(kind="query_fail")
    ref = seam.patient_register(facility_id="", details=DETAILS, external_id="hp-2")
    started = seam.query_start(request=QueryRequest(patient_id=ref.patient_id, sources=[], query_ref="q"))
    advance(started.request_id.split(":", 1)[1], to="finished")
    status = seam.query_status(request_id=started.request_id)
    assert status.sources[0].state == "failed"
    assert status.refusals[0].message == "The query could not be completed (injected fault)"


def test_what_particle_cannot_take_is_refused_before_sending(seam):
    other = PatientDetails(**{**{f: getattr(DETAILS, f) for f in DETAILS.__struct_fields__}, "gender_at_birth": "O"})
    with pytest.raises(NetworkPermanentError) as caught:
        seam.patient_register(facility_id="", details=other, external_id="hp-3")
    assert caught.value.name == "gender" and "male or female" in caught.value.detail
    assert not ParticlePatient.objects.exists()


def test_no_identity_at_particle(seam):
    with pytest.raises(NetworkPermanentError):
        seam.identity_session_start(patient_id="p", return_url="http://x/")
    with pytest.raises(NetworkPermanentError):
        seam.aal2_challenge_start(proofed_identity_id="p", return_url="http://x/")
    assert seam.identity_session_status(session_id="s").state == "unknown"


def test_a_sandbox_outage_is_transient(seam):
    Fault.objects.create(kind="api_5xx")
    with pytest.raises(NetworkTransientError):
        seam.patient_register(facility_id="", details=DETAILS, external_id="hp-4")


def test_a_malformed_request_id_is_permanent(seam):
    with pytest.raises(NetworkPermanentError):
        seam.query_status(request_id="no-colon")
    assert isinstance(PatientRef(patient_id="x"), PatientRef)
