"""Particle's paths, mounted under /sandbox/particle/ by `sandbox.urls`."""

from django.urls import path

from sandbox import particle_api

urlpatterns = [
    path("auth", particle_api.auth, name="particle_auth"),
    path("api/v2/patients", particle_api.patients, name="particle_patients"),
    path("api/v2/patients/<str:particle_patient_id>", particle_api.patient_detail, name="particle_patient"),
    path("api/v1/patients/<str:patient_id>", particle_api.patient_delete_v1, name="particle_patient_v1"),
    path("api/v2/patients/<str:particle_patient_id>/query", particle_api.query, name="particle_query"),
    path("api/v2/patients/<str:particle_patient_id>/fhir", particle_api.fhir, name="particle_fhir"),
    path("api/v2/patients/<str:particle_patient_id>/ccda", particle_api.ccda, name="particle_ccda"),
]
