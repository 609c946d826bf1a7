"""Particle behind the network seam: `ParticleNetwork` implements `ias.network.Network`.

Particle proves no identity and runs no AAL2 challenge (`offers_identity` is False): Homeport asks
it only after the person proved who they are at the first network, and every query states the
operator's purpose of use (`PARTICLE_PURPOSE_OF_USE`, no default). A Particle query has no
per-source progress; it is one row, "all", for the progress page. Its request id carries the
patient's id too (`<particle patient id>:<query id>`), since Particle's status endpoint needs both.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from ias import particle
from ias.network import (
    Aal2Opened,
    IdentitySession,
    IdentityStatus,
    NetworkPermanentError,
    NetworkTransientError,
    PatientDetails,
    PatientRef,
    QueryRequest,
    QueryStatus,
    RecordsRequested,
    RecordsStatus,
    SourceProgress,
    SourceRefusal,
    network_id,
    plain_reason,
)

SOURCE = "all"
NO_IDENTITY = "Particle does not prove identity; the first network does."


def request_id_make(particle_patient_id: str, query_id: str) -> str:
    return f"{particle_patient_id}:{query_id}"


def request_id_split(request_id: str) -> tuple[str, str]:
    patient_id, _, query_id = request_id.partition(":")
    if not patient_id or not query_id:
        raise NetworkPermanentError("particle: request id without a patient and a query", status=None)
    return patient_id, query_id


def patient_body(details: PatientDetails, external_id: str) -> particle.ParticlePatient:
    return particle.patient_build(
        patient_id=external_id,
        first_name=details.first_name,
        last_name=details.last_name,
        dob=details.dob,
        gender_at_birth=details.gender_at_birth,
        line1=details.address.line1,
        line2=details.address.line2,
        city=details.address.city,
        state=details.address.state,
        zip=details.address.zip,
        phone=details.phone,
        email=details.email,
    )


def status_of(answer: particle.QueryStatus, request_id: str) -> QueryStatus:
    """Particle's one state as the seam's progress: one source, and a refusal when it failed."""
    phase = answer.phase
    state = {"complete": "completed", "partial": "completed", "failed": "failed"}.get(phase, "processing")
    refusals = []
    if phase == "failed":
        refusals.append(SourceRefusal(source_type=SOURCE, message=plain_reason(answer.error_message or "")))
    return QueryStatus(
        request_id=request_id,
        sources=[SourceProgress(source_type=SOURCE, state=state)],  # type: ignore[arg-type]
        refusals=refusals,
    )


class ParticleNetwork:
    """`ias.network.Network` over Particle's Query API."""

    key = "particle"
    label = "Particle"
    offers_identity = False

    @property
    def purpose_of_use(self) -> str:
        return settings.PARTICLE_PURPOSE_OF_USE

    def patient_register(self, *, facility_id: str, details: PatientDetails, external_id: str) -> PatientRef:
        with particle.client() as api:
            answer = api.patient_register(patient=patient_body(details, external_id))
        patient_id = network_id(answer.particle_patient_id)
        if not patient_id:
            raise NetworkTransientError("POST /api/v2/patients: answer without a usable id")
        return PatientRef(patient_id=patient_id)

    def patient_update(self, *, patient: PatientRef, details: PatientDetails, external_id: str) -> None:
        """Particle updates on the same POST, by the caller's `patient_id`."""
        with particle.client() as api:
            api.patient_register(patient=patient_body(details, external_id))

    def patient_delete(self, *, patient: PatientRef) -> None:
        with particle.client() as api:
            api.patient_delete(particle_patient_id=patient.patient_id)

    def identity_session_start(self, *, patient_id: str, return_url: str) -> IdentitySession:
        raise NetworkPermanentError(f"particle: {NO_IDENTITY}", status=None)

    def identity_session_status(self, *, session_id: str) -> IdentityStatus:
        return IdentityStatus(state="unknown")

    def aal2_challenge_start(self, *, proofed_identity_id: str, return_url: str) -> Aal2Opened:
        raise NetworkPermanentError(f"particle: {NO_IDENTITY}", status=None)

    def query_start(self, *, request: QueryRequest) -> QueryStatus:
        with particle.client() as api:
            answer = api.query_submit(particle_patient_id=request.patient_id, purpose_of_use=self.purpose_of_use)
        query_id = network_id(answer.query_id)
        if not query_id:
            raise NetworkTransientError("POST /api/v2/patients/{id}/query: answer without a query id")
        return QueryStatus(
            request_id=request_id_make(request.patient_id, query_id),
            started_at=timezone.now(),
            sources=[SourceProgress(source_type=SOURCE, state="processing")],
        )

    def query_status(self, *, request_id: str) -> QueryStatus:
        patient_id, query_id = request_id_split(request_id)
        with particle.client() as api:
            answer = api.query_status(particle_patient_id=patient_id, query_id=query_id)
        return status_of(answer, request_id)

    def records_request(self, *, patient_id: str, query_ref: str) -> RecordsRequested:
        """Particle's results are ready once its query finished: nothing to request."""
        return RecordsRequested(request_id="", started_at=timezone.now())

    def records_status(self, *, patient_id: str, request_id: str) -> RecordsStatus:
        return RecordsStatus(state="completed")

    def document_link(self, *, file_name: str, content_type: str = "") -> str:
        raise NetworkPermanentError("particle: documents come in the C-CDA ZIP, not by link", status=None)

    def events_resend(self) -> None:
        """Particle has no resend; polling (`query_status`) finishes a query whose notification was lost."""
