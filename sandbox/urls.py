from django.urls import include, path

from sandbox import api, medlineplus, views

app_name = "sandbox"

urlpatterns = [
    # 1. patients
    path("medical/v1/patient", api.patient_create, name="patient_create"),
    path("medical/v1/patient/<str:patient_id>", api.patient_detail, name="patient_detail"),
    # 2. identity and AAL2
    path("medical/v1/identity/session", api.identity_session_create, name="identity_session_create"),
    path(
        "medical/v1/identity/session/<str:session_id>",
        api.identity_session_detail,
        name="identity_session_detail",
    ),
    path("medical/v1/identity/aal2/challenge", api.aal2_challenge_create, name="aal2_challenge_create"),
    # 3. network query
    path("medical/v1/network/query", api.network_query_start, name="network_query_start"),
    path("medical/v1/network/query/<str:request_id>", api.network_query_detail, name="network_query_detail"),
    # 4. consolidated data
    path(
        "medical/v1/patient/<str:patient_id>/consolidated/query",
        api.consolidated_query,
        name="consolidated_query",
    ),
    path(
        "medical/v1/patient/<str:patient_id>/consolidated/query/<str:request_id>",
        api.consolidated_query_detail,
        name="consolidated_query_detail",
    ),
    # 5. documents
    path("medical/v1/document", api.document_list, name="document_list"),
    path("medical/v1/document/query", api.document_query, name="document_query"),
    path("medical/v1/document/download-url", api.document_download_url, name="document_download_url"),
    path("medical/v1/document/download-url/bulk", api.document_bulk_urls, name="document_bulk_urls"),
    # 6. settings
    path("settings", api.settings_view, name="settings"),
    path("settings/webhook", api.settings_webhook, name="settings_webhook"),
    path("settings/webhook/retry", api.settings_webhook_retry, name="settings_webhook_retry"),
    # hosted pages and presigned files
    path("identity/<str:session_id>", views.identity_page, name="identity"),
    path("aal2/<str:challenge_id>", views.aal2_page, name="aal2"),
    path("files/<str:token>", views.file_download, name="file"),
    # plain-language explanations (a stand-in for MedlinePlus Connect)
    path("medlineplus/service", medlineplus.service, name="medlineplus"),
    # the second network: Particle's Query API
    path("particle/", include("sandbox.particle_urls")),
]
