from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from portal.models import AccountDeletion


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdmin):
    """Proof that a deletion request was carried out, without anything that identifies the person."""

    list_display = ["requested_at", "user_id_was", "completed_at", "network_deletion_scheduled", "notified_at"]
    list_filter = ["network_deletion_scheduled", ("notified_at", admin.EmptyFieldListFilter)]
    search_fields = ["email_hash", "user_id_was"]
    exclude = ["notify_email_encrypted"]
    date_hierarchy = "requested_at"
