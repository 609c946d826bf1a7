"""Staff views of snapshots and resources: read-only, searchable by patient and code."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from records.models import Resource, Snapshot


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
