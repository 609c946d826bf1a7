"""Staff views of the simulated network: patients, identity artefacts, queries, deliveries and faults."""

from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import models

from sandbox import services
from sandbox.models import (
    Aal2Challenge,
    Aal2Session,
    AccountSettings,
    ConsolidatedQuery,
    DocumentJob,
    Fault,
    IdentitySession,
    NetworkQuery,
    NetworkQuerySource,
    ParticlePatient,
    ParticleQuery,
    Patient,
    ProofedIdentity,
    WebhookDelivery,
)


class LabelledSplitDateTime(AdminSplitDateTime):
    """The admin's date and time boxes, each with an accessible name of its own."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.widgets[0].attrs["aria-label"] = "Date"
        self.widgets[1].attrs["aria-label"] = "Time"


class SandboxAdmin(admin.ModelAdmin):
    """The sandbox's URLs are local plain-HTTP ones: a scheme-less URL typed here means http://."""

    formfield_overrides = {
        models.URLField: {"assume_scheme": "http"},
        models.DateTimeField: {"widget": LabelledSplitDateTime},
    }


@admin.register(AccountSettings)
class AccountSettingsAdmin(SandboxAdmin):
    list_display = ("account_id", "webhook_url", "webhook_enabled", "webhook_status_detail", "updated_at")


@admin.register(Patient)
class PatientAdmin(SandboxAdmin):
    list_display = ("id", "persona", "record_size", "facility_id", "external_id", "date_created")
    list_filter = ("persona",)
    search_fields = ("id", "external_id")
    readonly_fields = ("id", "date_created", "etag")


@admin.register(IdentitySession)
class IdentitySessionAdmin(SandboxAdmin):
    list_display = ("id", "patient", "status", "outcome", "created_at", "expires_at")
    list_filter = ("status", "outcome")
    search_fields = ("id", "patient__id")


@admin.register(ProofedIdentity)
class ProofedIdentityAdmin(SandboxAdmin):
    list_display = ("id", "patient", "active", "created_at")
    exclude = ("totp_secret",)


@admin.register(Aal2Challenge)
class Aal2ChallengeAdmin(SandboxAdmin):
    list_display = ("id", "identity", "status", "failed_attempts", "expires_at")
    list_filter = ("status",)


@admin.register(Aal2Session)
class Aal2SessionAdmin(SandboxAdmin):
    list_display = ("id", "identity", "created_at", "expires_at")


class NetworkQuerySourceInline(admin.TabularInline):
    model = NetworkQuerySource
    extra = 0
    readonly_fields = ("type", "status", "started_at", "completed_at", "first_data_ready_at")


@admin.register(NetworkQuery)
class NetworkQueryAdmin(SandboxAdmin):
    list_display = ("request_id", "patient", "purpose_of_use", "overall_status", "started_at")
    list_filter = ("purpose_of_use",)
    search_fields = ("request_id", "patient__id")
    inlines = [NetworkQuerySourceInline]

    @admin.display(description="status")
    def overall_status(self, obj):
        return services.network_query_status(list(obj.sources.all()))


@admin.register(ConsolidatedQuery)
class ConsolidatedQueryAdmin(SandboxAdmin):
    list_display = ("request_id", "patient", "conversion_type", "status", "started_at", "completed_at")
    list_filter = ("status", "conversion_type")


@admin.register(DocumentJob)
class DocumentJobAdmin(SandboxAdmin):
    list_display = ("request_id", "patient", "kind", "status", "started_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SandboxAdmin):
    list_display = (
        "message_id",
        "network",
        "type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
    )
    list_filter = ("network", "status", "type")
    search_fields = ("message_id", "request_id", "patient__id")
    readonly_fields = (
        "message_id",
        "network",
        "type",
        "request_id",
        "patient",
        "url",
        "body",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
    )
    actions = ["resend"]

    @admin.action(description="Resend the selected deliveries now (same messageId and body)")
    def resend(self, request, queryset):
        results = []
        for pk in queryset.order_by("created_at", "id").values_list("pk", flat=True):
            delivery = services.webhook_deliver(delivery_id=pk, resend=True)
            results.append(delivery.status if delivery else "missing")
        ok = results.count("delivered")
        self.message_user(
            request,
            f"Resent {len(results)}: {ok} delivered, {len(results) - ok} failed.",
            messages.SUCCESS if ok == len(results) else messages.WARNING,
        )


@admin.register(Fault)
class FaultAdmin(SandboxAdmin):
    list_display = ("kind", "patient", "target", "seconds", "enabled", "note", "created_at")
    list_filter = ("kind", "enabled")
    list_editable = ("enabled",)
    raw_id_fields = ("patient",)


class ParticleQueryInline(admin.TabularInline):
    model = ParticleQuery
    extra = 0
    fields = ("id", "purpose_of_use", "outcome", "files", "submitted_at", "finish_at", "notified_at")
    readonly_fields = fields
    can_delete = False


@admin.register(ParticlePatient)
class ParticlePatientAdmin(SandboxAdmin):
    list_display = ("id", "external_id", "persona", "record_size", "created_at")
    list_filter = ("persona",)
    search_fields = ("id", "external_id")
    readonly_fields = ("id", "created_at")
    inlines = [ParticleQueryInline]


@admin.register(ParticleQuery)
class ParticleQueryAdmin(SandboxAdmin):
    list_display = ("id", "patient", "purpose_of_use", "outcome", "files", "submitted_at", "notified_at")
    list_filter = ("outcome", "purpose_of_use")
    search_fields = ("id", "patient__id", "patient__external_id")
    readonly_fields = ("id", "submitted_at", "notified_at")
