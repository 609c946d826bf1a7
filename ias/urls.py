from django.urls import path

from ias import views

app_name = "ias"

# The networks' doors; `portal.middleware.webhooks_first` serves them without the browser's middleware.
webhook_urlpatterns = [
    path("webhooks/metriport/", views.webhook, name="webhook"),
    path("webhooks/particle/", views.webhook_particle, name="webhook_particle"),
]

urlpatterns = [
    path("journey/consent/", views.consent, name="consent"),
    path("journey/details/", views.demographics, name="demographics"),
    path("journey/identity/", views.identity, name="identity"),
    path("journey/identity/return/", views.identity_return, name="identity_return"),
    path("journey/identity/wait/", views.identity_wait, name="identity_wait"),
    path("journey/identity/status/", views.identity_status, name="identity_status"),
    path("journey/check/", views.aal2, name="aal2"),
    path("journey/check/return/<str:state>/", views.aal2_return, name="aal2_return"),
    path("journey/search/", views.sources, name="sources"),
    path("journey/search/<uuid:public_id>/", views.progress, name="progress"),
    path("journey/search/<uuid:public_id>/status/", views.progress_status, name="progress_status"),
    path("journey/search/<uuid:public_id>/retry/", views.source_retry, name="source_retry"),
    *webhook_urlpatterns,
]
