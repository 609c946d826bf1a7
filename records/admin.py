"""Staff views of snapshots and resources: read-only; opening one asks for a reason and is logged."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy, ngettext

from accounts.admin import HealthDataAdmin, ReadOnlyAdmin
from records.explanations import explanation_setting_save
from records.models import Explanation, ExplanationSetting, Resource, Share, ShareOpening, Snapshot
from records.sharing import share_revoke


class NetworkSourceFilter(admin.SimpleListFilter):
    """Filter by network source; the blank source (an upload) gets a name, so its link has text."""

    title = gettext_lazy("network source")
    parameter_name = "network_source"

    def lookups(self, request, model_admin):
        values = model_admin.model.objects.order_by().values_list("network_source", flat=True).distinct()
        return [(value or "-", value or gettext("(none: uploaded)")) for value in sorted(set(values))]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(network_source="" if self.value() == "-" else self.value())


@admin.register(Snapshot)
class SnapshotAdmin(HealthDataAdmin):
    health_action = "staff:snapshot"

    list_display = (
        "id",
        "user",
        "network_source",
        "status",
        "resource_count",
        "created_count",
        "updated_count",
        "retired_count",
        "download_ms",
        "ingest_ms",
        "started_at",
    )
    list_filter = ("status", NetworkSourceFilter)
    search_fields = ("user__email", "request_id")
    readonly_fields = [f.name for f in Snapshot._meta.fields]
    list_select_related = ("user",)


@admin.register(Resource)
class ResourceAdmin(HealthDataAdmin):
    """The list names no clinical content (it mixes people); one resource opens after a reason."""

    health_action = "staff:resource"
    list_display = ("resource_type", "resource_id", "network_source", "user", "retired_at")
    list_filter = ("resource_type", NetworkSourceFilter)
    search_fields = ("user__email", "resource_id")
    readonly_fields = [f.name for f in Resource._meta.fields]
    list_select_related = ("user",)
    show_full_result_count = False

    def health_target(self, obj: Resource) -> str:
        return obj.reference


@admin.register(ExplanationSetting)
class ExplanationSettingAdmin(admin.ModelAdmin):
    """Staff switch MedlinePlus explanations on or off; the request budget is not theirs to edit."""

    list_display = ("__str__", "enabled")
    fields = ("enabled",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not ExplanationSetting.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: ExplanationSetting | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ExplanationSetting, form: Any, change: bool) -> None:
        explanation_setting_save(enabled=obj.enabled)


@admin.register(Explanation)
class ExplanationAdmin(ReadOnlyAdmin):
    """What MedlinePlus answered per code and language (public reference text, no personal data)."""

    list_display = ("code_system", "code", "language", "fetched_at")
    list_filter = ("language",)
    search_fields = ("code",)
    readonly_fields = ("code_system", "code", "language", "topics", "fetched_at")


class ShareOpeningInline(admin.TabularInline):
    model = ShareOpening
    fields = ("at", "recipient", "ip", "user_agent")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Share)
class ShareAdmin(HealthDataAdmin):
    """A person's SMART Health Links: the list says only whose, what kind and whether it works; the
    label and who opened it show after a reason. Staff can stop a share the person asks them to."""

    health_action = "staff:share"
    list_display = ("id", "user", "scope", "state", "has_passcode", "created_at", "expires_at", "open_count")
    list_filter = ("scope",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = (
        "user",
        "label",
        "scope",
        "categories",
        "state",
        "has_passcode",
        "failed_passcode_attempts",
        "created_at",
        "expires_at",
        "revoked_at",
        "locked_at",
        "files_deleted_at",
        "open_count",
    )
    readonly_fields = fields
    inlines = [ShareOpeningInline]
    actions = ["revoke_shares"]

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj: Share) -> str:
        return obj.state

    @admin.display(description=gettext_lazy("passcode"), boolean=True)
    def has_passcode(self, obj: Share) -> bool:
        return obj.has_passcode

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    @admin.action(description=gettext_lazy("Stop the selected shares now"), permissions=["revoke"])
    def revoke_shares(self, request: HttpRequest, queryset: QuerySet[Share]) -> None:
        """For a person who asks support to stop a link; the files are deleted at once."""
        stopped = 0
        for share in queryset.select_related("user").filter(revoked_at__isnull=True):
            share_revoke(user=share.user, share_id=share.pk)
            stopped += 1
        self.message_user(
            request, ngettext("%(count)d share stopped.", "%(count)d shares stopped.", stopped) % {"count": stopped}
        )
