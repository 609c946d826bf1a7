"""Staff views of every journey, query and webhook, with the actions staff need instead of a shell.

Health data is read-only here: demographics and raw bodies are shown decrypted but never editable,
and rows are never deleted here (that would skip `network_patient_forget`: the network's copy and the
durable promise to delete it).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from accounts.admin import HealthDataAdmin, ReadOnlyAdmin
from accounts.models import User
from ias import events, particle, queries, selectors, webhooks
from ias.lookup import events_for_person, person_for_event
from ias.models import (
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    PatientDeletion,
    QuerySource,
    WebhookEvent,
)


class NetworkOffNotice:
    """A network list says, above its rows, why Particle is off when the operator began to turn it on
    (listed in HOMEPORT_NETWORKS or given a purpose) but it is still off."""

    def get_changelist(self, request, **kwargs):
        """Said while the list is built (not by wrapping the list view, which stays Django's own)."""
        reason = particle.off_reason()
        wanted = particle.NETWORK in settings.HOMEPORT_NETWORKS or bool(settings.PARTICLE_PURPOSE_OF_USE)
        if reason and wanted:
            messages.warning(request, reason)
        return super().get_changelist(request, **kwargs)  # type: ignore[misc]


@admin.register(NetworkPatient)
class NetworkPatientAdmin(NetworkOffNotice, HealthDataAdmin):
    health_action = "staff:demographics"
    list_display = ["user", "network", "patient_id", "facility_id", "last_ingested_data_at", "updated_at"]
    search_fields = ["user__email", "patient_id"]
    list_filter = ["facility_id"]
    readonly_fields = [
        "user",
        "patient_id",
        "facility_id",
        "demographics",
        "last_ingested_data_at",
        "last_ingested_message_id",
        "created_at",
        "updated_at",
    ]
    exclude = ["demographics_encrypted"]

    @admin.display(description=gettext_lazy("Demographics sent to the network"))
    def demographics(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(selectors.network_patient_demographics(link=obj), indent=2))


@admin.register(IdentityVerification)
class IdentityVerificationAdmin(ReadOnlyAdmin):
    list_display = ["user", "session_id", "status", "created_at", "verified_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "session_id", "proofed_identity_id"]
    date_hierarchy = "created_at"


@admin.register(Aal2Challenge)
class Aal2ChallengeAdmin(ReadOnlyAdmin):
    list_display = ["user", "challenge_id", "method", "status", "created_at", "verified_at"]
    list_filter = ["status", "method"]
    search_fields = ["user__email", "challenge_id"]
    exclude = ["state", "aal2_session_id"]
    date_hierarchy = "created_at"


class QuerySourceInline(admin.TabularInline):
    model = QuerySource
    extra = 0
    can_delete = False
    fields = (
        "source_type",
        "status",
        "records",
        "reason",
        "http_status",
        "network_message",
        "started_at",
        "first_data_at",
        "completed_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(NetworkQuery)
class NetworkQueryAdmin(NetworkOffNotice, ReadOnlyAdmin):
    list_display = ["request_id", "user", "network", "kind", "status", "created_at", "last_activity_at", "poll_count"]
    list_filter = ["network", "kind", "status", "placeholder"]
    search_fields = ["user__email", "request_id", "public_id"]
    date_hierarchy = "created_at"
    inlines = [QuerySourceInline]
    actions = ["poll_now", "mark_failed"]

    @admin.action(description=gettext_lazy("Poll the network now"))
    def poll_now(self, request, queryset):
        polled = 0
        for query in queryset:
            try:
                queries.query_poll(query_id=query.pk)
                polled += 1
            except Exception as exc:
                self.message_user(request, f"{query}: {type(exc).__name__}: {exc}", messages.ERROR)
        self.message_user(request, gettext("Polled %(count)s queries.") % {"count": polled})

    @admin.action(description=gettext_lazy("Mark stuck queries failed"))
    def mark_failed(self, request, queryset):
        for query in queryset:
            queries.query_mark_failed(query_id=query.pk, reason="Stopped by Homeport staff.")
        marked = queryset.count()
        self.message_user(
            request,
            gettext("Marked %(count)s queries failed.") % {"count": marked},
        )


class PersonFilter(admin.SimpleListFilter):
    """Events of one person (`?person=<user id>`, linked from the person page and the person column)."""

    title = gettext_lazy("person")
    parameter_name = "person"

    def lookups(self, request, model_admin):
        value = str(self.value() or "")
        person = User.objects.filter(pk=int(value)).first() if value.isdigit() else None
        return [(str(person.pk), person.email)] if person else []

    def queryset(self, request, queryset):
        value = str(self.value() or "")
        if not value.isdigit():
            return queryset
        person = User.objects.filter(pk=int(value)).first()
        if person is None:
            return queryset.none()
        return queryset.filter(pk__in=events_for_person(user=person).values("pk"))


@admin.register(WebhookEvent)
class WebhookEventAdmin(HealthDataAdmin):
    health_action = "staff:webhook-body"
    list_display = ["short_message_id", "event_type", "person", "status", "attempts", "received"]
    list_filter = ["status", PersonFilter, "event_type", "signature_valid"]
    search_fields = ["message_id", "request_id", "network_patient_id"]
    search_help_text = gettext_lazy("A message id, request id, network patient id, or a person's email address.")
    date_hierarchy = "received_at"
    exclude = ["body_encrypted"]
    readonly_fields = [
        "message_id",
        "event_type",
        "request_id",
        "network_patient_id",
        "sent_at",
        "body_size",
        "signature_valid",
        "status",
        "attempts",
        "last_error",
        "outcome",
        "received_at",
        "last_enqueued_at",
        "claimed_until",
        "processed_at",
        "raw_body",
    ]
    actions = ["reprocess"]

    def health_subject(self, obj: WebhookEvent) -> User | None:
        return person_for_event(event=obj)

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        person = User.objects.filter(email__iexact=search_term.strip()).first() if "@" in search_term else None
        if person is not None:
            found = found | queryset.filter(pk__in=events_for_person(user=person).values("pk"))
        return found, may_have_duplicates

    @admin.display(description=gettext_lazy("Message id"), ordering="message_id")
    def short_message_id(self, obj: WebhookEvent) -> str:
        return format_html('<span title="{}">{}…</span>', obj.message_id, obj.message_id[:8])

    @admin.display(description=gettext_lazy("Received"), ordering="received_at")
    def received(self, obj: WebhookEvent) -> str:
        return timezone.localtime(obj.received_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description=gettext_lazy("Person"))
    def person(self, obj: WebhookEvent) -> str:
        person = person_for_event(event=obj)
        if person is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:accounts_user_journey", args=[person.pk]), person.email
        )

    @admin.display(description=gettext_lazy("Raw body (decrypted)"))
    def raw_body(self, obj):
        try:
            body = webhooks.event_body(obj)
        except Exception as exc:
            return gettext("cannot be read: %(error)s") % {"error": type(exc).__name__}
        return format_html("<pre>{}</pre>", json.dumps(body, indent=2)[:200_000])

    @admin.action(description=gettext_lazy("Reprocess selected events"))
    def reprocess(self, request, queryset):
        for event_id in queryset.values_list("pk", flat=True):
            events.webhook_event_reprocess(event_id=event_id)
        queued = queryset.count()
        self.message_user(
            request,
            gettext("Queued %(count)s events again.") % {"count": queued},
        )


@admin.register(PatientDeletion)
class PatientDeletionAdmin(ReadOnlyAdmin):
    list_display = ["network_patient_id", "status", "attempts", "created_at", "done_at"]
    list_filter = ["status"]
    search_fields = ["network_patient_id"]
