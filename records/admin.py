"""Staff views of snapshots and resources: read-only, searchable by patient and code."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import ReadOnlyAdmin
from records.explanations import explanation_setting_save
from records.models import Explanation, ExplanationSetting, Resource, Snapshot


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
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
    list_filter = ("status", "network_source")
    search_fields = ("user__email", "request_id")
    readonly_fields = [f.name for f in Snapshot._meta.fields]
    list_select_related = ("user",)


@admin.register(Resource)
class ResourceAdmin(ReadOnlyAdmin):
    list_display = (
        "resource_type",
        "display",
        "clinical_date_text",
        "status",
        "flag",
        "source_org",
        "network_source",
        "user",
        "retired_at",
    )
    list_filter = ("resource_type", "category", "network_source")
    search_fields = ("user__email", "code", "display", "resource_id")
    readonly_fields = [f.name for f in Resource._meta.fields]
    list_select_related = ("user",)
    show_full_result_count = False


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
