from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy

from accounts import views as account_views
from portal import views

handler500 = "portal.views.server_error"

admin.site.site_header = gettext_lazy("Homeport staff")
admin.site.site_title = gettext_lazy("Homeport staff")
admin.site.index_title = gettext_lazy("Patients, queries, webhooks and records")

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("healthz", views.healthz, name="healthz"),
    path("privacy/", views.privacy, name="privacy"),
    path("language/", views.language_set, name="set_language"),
    path("account/", views.account, name="account"),
    path("privacy/v/<str:version>/", views.privacy_version, name="privacy_version"),
    path("account/consent/revoke/", views.consent_revoke, name="account_consent_revoke"),
    path("account/export/", views.account_export, name="account_export"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path("account/deleted/", views.account_deleted, name="account_deleted"),
    path("accounts/2fa/totp/activate/", account_views.totp_activate, name="mfa_activate_totp"),
    path("accounts/2fa/webauthn/add/", account_views.webauthn_add, name="mfa_add_webauthn"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("records/", include("records.urls")),
    path("share/", include("records.sharing_urls")),
    path("", include("ias.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
