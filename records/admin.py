"""Staff views of snapshots and resources: read-only; opening one asks for a reason and is logged."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import HealthDataAdmin, ReadOnlyAdmin
from records.explanations import explanation_setting_save
from records.models import Explanation, ExplanationSetting, Resource, Snapshot


class NetworkSourceFilter(admin.SimpleListFilter):
    """Filter by network source; the blank source (an upload) gets a name, so its link has text."""

    title = "network source"
    parameter_name = "network_source"

    def lookups(self, request, model_admin):
        values = model_admin.model.objects.order_by().values_list("network_source", flat=True).distinct()
        return [(value or "-", value or "(none: uploaded)") for value in sorted(set(values))]

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
        "network",
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
    list_filter = ("status", "network", NetworkSourceFilter)
    search_fields = ("user__email", "request_id")
    readonly_fields = [f.name for f in Snapshot._meta.fields]
    list_select_related = ("user",)


@admin.register(Resource)
class ResourceAdmin(HealthDataAdmin):
    """The list names no clinical content (it mixes people); one resource opens after a reason."""

    health_action = "staff:resource"
    list_display = ("resource_type", "resource_id", "network", "network_source", "user", "retired_at")
    list_filter = ("resource_type", "network", NetworkSourceFilter)
    search_fields = ("user__email", "resource_id")
    readonly_fields = [f.name for f in Resource._meta.fields]
    list_select_related = ("user",)
    show_full_result_count = False

    def health_target(self, obj: Resource) -> str:
        return obj.logged_reference


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
