"""The journey with Particle enabled beside Metriport: the details register the person at both, one
search asks both, and the progress page shows each network's part side by side."""

import pytest
from django.urls import reverse

from ias import particle
from ias.models import NetworkPatient, NetworkQuery
from ias.network import Address, NetworkPermanentError, NetworkTransientError, PatientDetails
from ias.particle_network import ParticleNetwork
from sandbox import particle as sandbox_particle
from sandbox.models import ParticleQuery
from tests.ias.conftest import aal2_passed, consented, verified
from tests.ias.test_journey_views import DETAILS
from tests.sandbox.particle_helpers import DjangoTransport, particle_through_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(settings, network, monkeypatch):
    """Metriport faked, Particle the sandbox's (its own delays and deliveries held back)."""
    particle_through_sandbox(settings)
    settings.SANDBOX_PARTICLE_STATUS_404_SECONDS = 0.0
    monkeypatch.setattr(sandbox_particle.tasks.particle_query_complete, "apply_async", lambda *a, **k: None)
    monkeypatch.setattr(sandbox_particle.tasks.webhook_deliver, "apply_async", lambda *a, **k: None)
    particle.use_transport(DjangoTransport())
    yield network
    particle.use_transport(None)


def registered_at_both(user) -> None:
    verified(user, "pat_1")
    details = PatientDetails(
        first_name="Ann",
        last_name="Example",
        dob="1980-04-23",
        gender_at_birth="F",
        address=Address(line1="1 Main St", city="Boston", state="MA", zip="02139"),
    )
    ref = ParticleNetwork().patient_register(facility_id="", details=details, external_id=f"homeport-{user.pk}")
    NetworkPatient.objects.create(user=user, network="particle", patient_id=ref.patient_id)


def test_saving_details_registers_the_person_at_both_networks(client_mfa, mfa_user, both):
    consented(mfa_user)
    response = client_mfa.post(reverse("ias:demographics"), DETAILS)
    assert response.status_code == 302
    links = {link.network: link for link in NetworkPatient.objects.filter(user=mfa_user)}
    assert set(links) == {"metriport", "particle"}
    assert links["particle"].patient_id and links["particle"].demographics_encrypted
    again = client_mfa.post(reverse("ias:demographics"), {**DETAILS, "city": "Cambridge"})
    assert again.status_code == 302
    assert NetworkPatient.objects.filter(user=mfa_user).count() == 2


def test_with_particle_off_only_metriport_is_asked(client_mfa, mfa_user, both, settings):
    settings.PARTICLE_PURPOSE_OF_USE = ""
    consented(mfa_user)
    assert client_mfa.post(reverse("ias:demographics"), DETAILS).status_code == 302
    assert list(NetworkPatient.objects.filter(user=mfa_user).values_list("network", flat=True)) == ["metriport"]


def test_a_particle_refusal_is_words_next_to_the_form(client_mfa, mfa_user, both, monkeypatch):
    def refuse(self, **kwargs):
        raise NetworkPermanentError("particle: 400", status=400, detail="address state must be two letters")

    monkeypatch.setattr(ParticleNetwork, "patient_register", refuse)
    consented(mfa_user)
    response = client_mfa.post(reverse("ias:demographics"), DETAILS)
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors == ["Particle did not accept your details: address state must be two letters"]
    assert list(
        NetworkPatient.objects.filter(user=mfa_user, patient_id__isnull=False).values_list("network", flat=True)
    ) == ["metriport"]


def test_a_particle_refusal_is_said_in_the_persons_language(client_mfa, mfa_user, both, monkeypatch):
    def refuse(self, **kwargs):
        raise NetworkPermanentError("particle: 400", status=400, detail="")

    def down(self, **kwargs):
        raise NetworkTransientError("particle: 503", status=503)

    monkeypatch.setattr(ParticleNetwork, "patient_register", refuse)
    consented(mfa_user)
    response = client_mfa.post(reverse("ias:demographics"), DETAILS, HTTP_ACCEPT_LANGUAGE="es")
    assert response.context["form"].non_field_errors() == [
        "Particle no aceptó sus datos: revise sus datos y guárdelos de nuevo"
    ]
    monkeypatch.setattr(ParticleNetwork, "patient_register", down)
    response = client_mfa.post(reverse("ias:demographics"), DETAILS, HTTP_ACCEPT_LANGUAGE="es")
    assert response.context["form"].non_field_errors()[0].startswith("No se pudo contactar con Particle")


def test_particle_unreachable_is_said_plainly(client_mfa, mfa_user, both, monkeypatch):
    def down(self, **kwargs):
        raise NetworkTransientError("particle: 503", status=503)

    monkeypatch.setattr(ParticleNetwork, "patient_register", down)
    consented(mfa_user)
    response = client_mfa.post(reverse("ias:demographics"), DETAILS)
    assert response.status_code == 200
    assert "Particle could not be reached just now" in response.context["form"].non_field_errors()[0]


def test_one_search_asks_both_and_the_page_shows_each(client_mfa, mfa_user, both, no_enqueue):
    registered_at_both(mfa_user)
    aal2_passed(mfa_user)
    response = client_mfa.post(reverse("ias:sources"), {"hie": "on", "pharmacy": "on", "lab": "on"})
    search = NetworkQuery.objects.get(user=mfa_user, network="metriport")
    companion = NetworkQuery.objects.get(user=mfa_user, network="particle")
    assert response["Location"] == reverse("ias:progress", args=[search.public_id])
    assert companion.parent_id == search.pk and companion.request_id
    assert ParticleQuery.objects.get().purpose_of_use == "TREATMENT"
    page = client_mfa.get(response["Location"])
    assert b"At Metriport" in page.content and b"At Particle" in page.content
    status = client_mfa.get(reverse("ias:progress_status", args=[search.public_id])).json()
    assert [part["network"] for part in status["networks"]] == ["metriport", "particle"]
    assert status["settled"] is False
    assert status["networks"][1]["sources"][0]["status"] == "processing"


def test_a_particle_failure_does_not_stop_the_search(client_mfa, mfa_user, both, no_enqueue, monkeypatch):
    def down(self, **kwargs):
        raise NetworkTransientError("particle: 503", status=503)

    registered_at_both(mfa_user)
    aal2_passed(mfa_user)
    monkeypatch.setattr(ParticleNetwork, "query_start", down)
    response = client_mfa.post(reverse("ias:sources"), {"hie": "on", "pharmacy": "on", "lab": "on"})
    search = NetworkQuery.objects.get(user=mfa_user, network="metriport")
    assert response["Location"] == reverse("ias:progress", args=[search.public_id])
    assert search.status == "processing"
    companion = NetworkQuery.objects.get(user=mfa_user, network="particle")
    assert companion.status == "failed"
    page = client_mfa.get(response["Location"])
    particle_part = page.context["progress"]["networks"][1]
    assert particle_part["status_label"] == "Not completed"
    assert "could not be asked just now" in particle_part["sources"][0]["detail"]
    assert b"could not be asked just now" in page.content


def test_with_metriport_alone_the_page_has_no_network_headings(client_mfa, mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    response = client_mfa.post(reverse("ias:sources"), {"hie": "on", "pharmacy": "on", "lab": "on"})
    assert NetworkQuery.objects.filter(user=mfa_user).count() == 1
    page = client_mfa.get(response["Location"])
    assert b"At Metriport" not in page.content
    assert len(page.context["progress"]["networks"]) == 1


def test_consent_and_privacy_name_each_network_and_its_purpose(client_mfa, both):
    consent = client_mfa.get(reverse("ias:consent")).content.decode()
    notice = client_mfa.get(reverse("privacy")).content.decode()
    for page in (consent, notice):
        assert "Metriport, for individual access: you asking for your own records." in page
        assert "Particle, for treatment: the care you receive from the clinic that offers you Homeport." in page


def test_the_purposes_read_in_spanish(client_mfa, both):
    page = client_mfa.get(reverse("privacy"), headers={"accept-language": "es"}).content.decode()
    assert "Particle, para tratamiento: la atención que recibe" in page


def test_with_particle_off_only_metriport_is_named(client_mfa, network):
    page = client_mfa.get(reverse("ias:consent")).content.decode()
    assert "Metriport, for individual access" in page
    assert "Particle" not in page


@pytest.mark.parametrize("model", ["networkpatient", "networkquery"])
def test_the_admin_says_why_particle_is_off(staff_client_mfa, settings, model):
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = ""
    page = staff_client_mfa.get(reverse(f"admin:ias_{model}_changelist"))
    assert page.status_code == 200
    said = [str(m) for m in page.context["messages"]]
    assert any(m.startswith("PARTICLE_PURPOSE_OF_USE is not set. Particle stays off") for m in said)


def test_the_admin_is_quiet_when_particle_is_on_or_never_asked_for(staff_client_mfa, settings):
    settings.HOMEPORT_NETWORKS = ["metriport"]
    settings.PARTICLE_PURPOSE_OF_USE = ""
    quiet = staff_client_mfa.get(reverse("admin:ias_networkpatient_changelist"))
    assert [str(m) for m in quiet.context["messages"]] == []
    particle_through_sandbox(settings)
    on = staff_client_mfa.get(reverse("admin:ias_networkpatient_changelist"))
    assert [str(m) for m in on.context["messages"]] == []


def test_the_search_is_done_only_when_every_network_saved_its_records(mfa_user):
    from ias import selectors
    from ias.models import QuerySource

    search = NetworkQuery.objects.create(user=mfa_user, network="metriport", status="completed", request_id="m1")
    QuerySource.objects.create(query=search, source_type="hie", status="completed", records="fetched")
    companion = NetworkQuery.objects.create(
        user=mfa_user, network="particle", parent=search, status="processing", request_id="p:1"
    )
    theirs = QuerySource.objects.create(query=companion, source_type="all", status="processing")
    waiting = selectors.progress_for(query=search)
    assert (waiting["terminal"], waiting["settled"], waiting["status_label"]) == (False, False, "Searching")
    assert waiting["networks"][0]["settled"] is True
    NetworkQuery.objects.filter(pk=companion.pk).update(status="completed")
    QuerySource.objects.filter(pk=theirs.pk).update(status="completed", records="saving")
    saving = selectors.progress_for(query=search)
    assert (saving["terminal"], saving["settled"], saving["status_label"]) == (True, False, "Still adding records")
    QuerySource.objects.filter(pk=theirs.pk).update(records="fetched")
    done = selectors.progress_for(query=search)
    assert (done["settled"], done["outcome"], done["status_label"]) == (True, "ready", "Done")


def test_the_sources_page_names_each_network_and_what_it_searches(client_mfa, mfa_user, both):
    registered_at_both(mfa_user)
    aal2_passed(mfa_user)
    page = client_mfa.get(reverse("ias:sources")).content.decode()
    assert "The networks we will ask" in page
    assert "Metriport searches the places you choose below." in page
    assert "Particle searches every place it reaches." in page
    consent = client_mfa.get(reverse("ias:consent")).content.decode()
    assert "reached through the health networks named below" in consent
    assert "through our health network, Metriport" not in consent


def test_with_metriport_alone_the_sources_page_names_no_networks(client_mfa, mfa_user, network):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    page = client_mfa.get(reverse("ias:sources")).content.decode()
    assert page.count("data-networks") == 0 and "Where should we search?" in page
    consent = client_mfa.get(reverse("ias:consent")).content.decode()
    assert "through our health network, Metriport" in consent
