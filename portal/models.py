"""What stays after a person deletes their account: an audit row with no health data."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AccountDeletion(models.Model):
    """One account deletion: a keyed hash of the email (never the address), when, and how much was removed.

    `notify_email_encrypted` holds the address, encrypted, only until the confirmation email has gone out;
    it is emptied right after, so the row keeps no contact detail.
    """

    email_hash = models.CharField(max_length=64, db_index=True, help_text="HMAC-SHA256 of the email address.")
    user_id_was = models.BigIntegerField(help_text="The deleted account's id, for matching older audit rows.")
    requested_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="How many rows of each kind were removed.")
    network_deletion_scheduled = models.BooleanField(default=False)
    notify_email_encrypted = models.TextField(blank=True, default="")
    notify_language = models.CharField(
        max_length=8, blank=True, help_text="The language of the confirmation email: the person's, when they deleted."
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notify_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("account deletion")
        verbose_name_plural = _("account deletions")
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"account deletion {self.pk} at {self.requested_at:%Y-%m-%d %H:%M}"

    @property
    def notification_pending(self) -> bool:
        return bool(self.notify_email_encrypted)
