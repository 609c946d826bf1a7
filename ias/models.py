"""The journey's state as the network sees it: link, identity, AAL2, queries, and every webhook event.

Demographics and raw webhook bodies are personal data and are stored encrypted
(`accounts.crypto`); the other columns hold network ids and statuses only.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _token() -> str:
    return secrets.token_urlsafe(24)


# The network a row belongs to (`ias.network.network_for(row.network)`); rows made before a second
# network existed are Metriport's.
NETWORK_DEFAULT = "metriport"


def network_field(*, db_index: bool = False) -> models.CharField:
    return models.CharField(max_length=20, default=NETWORK_DEFAULT, db_index=db_index)


class NetworkPatient(models.Model):
    """This person's patient record at one network (created once, updated on later edits)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="network_patients")
    network = network_field()
    patient_id = models.CharField(max_length=100, null=True, blank=True, db_index=True)  # noqa: DJ001 (NULLs never collide in the unique constraint)
    facility_id = models.CharField(max_length=100)
    demographics_encrypted = models.TextField(blank=True, default="")
    last_ingested_data_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("`meta.when` of the newest bundle ingested; older bundles are skipped."),
    )
    last_ingested_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = _("network patient links")
        verbose_name = _("network patient link")
        constraints = [
            models.UniqueConstraint(fields=["user", "network"], name="ias_one_patient_per_network"),
            models.UniqueConstraint(fields=["network", "patient_id"], name="ias_patient_id_per_network"),
        ]

    def __str__(self) -> str:
        return self.patient_id or f"(not created yet, user {self.user_id})"


class IdentityVerification(models.Model):
    """One IAL2 identity-proofing session at the network."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the result")
        VERIFIED = "verified", _("verified")
        FAILED = "failed", _("not verified")
        EXPIRED = "expired", _("expired")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_verifications")
    session_id = models.CharField(max_length=100, unique=True)
    session_url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    proofed_identity_id = models.CharField(max_length=100, blank=True, db_index=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("identity verification")
        verbose_name_plural = _("identity verifications")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.session_id} ({self.status})"


# How long a passed AAL2 challenge may start a query: the one definition services and selectors share.
AAL2_FRESH_FOR = timedelta(minutes=15)


class Aal2Challenge(models.Model):
    """One AAL2 challenge; `state` binds the browser's return to this person's challenge."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the person")
        VERIFIED = "verified", _("passed, not used yet")
        USED = "used", _("used for a query")
        REFUSED = "refused", _("refused by the network")
        EXPIRED = "expired", _("expired")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="aal2_challenges")
    state = models.CharField(max_length=64, unique=True, default=_token)
    challenge_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    challenge_url = models.URLField(max_length=2000, blank=True)
    method = models.CharField(max_length=20, blank=True)
    proofed_identity_id = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    aal2_session_id = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("AAL2 challenges")
        ordering = ["-created_at"]
        verbose_name = _("AAL2 challenge")

    def __str__(self) -> str:
        return f"{self.challenge_id or self.state[:8]} ({self.status})"


class NetworkQuery(models.Model):
    """A network query (`kind=network`) or a consolidated-data query (`kind=consolidated`)."""

    class Kind(models.TextChoices):
        NETWORK = "network", _("network query")
        CONSOLIDATED = "consolidated", _("consolidated-data query")

    class Status(models.TextChoices):
        STARTING = "starting", _("starting")
        PROCESSING = "processing", _("in progress")
        COMPLETED = "completed", _("completed")
        PARTIAL = "partial", _("partly completed")
        FAILED = "failed", _("failed")
        TIMED_OUT = "timed_out", _("timed out")

    TERMINAL = (Status.COMPLETED, Status.PARTIAL, Status.FAILED, Status.TIMED_OUT)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="network_queries")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NETWORK)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="consolidated_queries"
    )
    network = network_field()
    request_id = models.CharField(max_length=100, null=True, blank=True, db_index=True)  # noqa: DJ001 (NULLs never collide in the unique constraint)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTING, db_index=True)
    placeholder = models.BooleanField(
        default=False, help_text=_("Created from a webhook that arrived before the query's own response.")
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    settled_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When every source's records were in; the person is told once, then.")
    )
    notified_at = models.DateTimeField(null=True, blank=True, help_text=_("When the outcome email went out."))

    class Meta:
        verbose_name = _("network query")
        ordering = ["-created_at"]
        verbose_name_plural = _("network queries")
        indexes = [models.Index(fields=["status", "last_activity_at"])]
        constraints = [models.UniqueConstraint(fields=["network", "request_id"], name="ias_request_id_per_network")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.request_id or self.public_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class QuerySource(models.Model):
    """One source (HIE, pharmacy, lab) of a network query."""

    class Type(models.TextChoices):
        HIE = "hie", _("Health information exchanges")
        PHARMACY = "pharmacy", _("Pharmacies")
        LAB = "lab", _("Laboratories")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        PROCESSING = "processing", _("in progress")
        COMPLETED = "completed", _("done")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("could not start")
        TIMED_OUT = "timed_out", _("timed out")

    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.REFUSED, Status.TIMED_OUT)

    class Records(models.TextChoices):
        NONE = "none", _("nothing to fetch yet")
        SAVING = "saving", _("saving your records")
        FETCHED = "fetched", _("records saved")
        SKIPPED = "skipped", _("newer records already saved")
        AWAITING = "awaiting", _("waiting for a fresh copy")
        EMPTY = "empty", _("no records found")
        FAILED = "failed", _("could not be saved")

    # Until its records are one of these, a source's answer is not yet in the person's record.
    RECORDS_SETTLED = (Records.FETCHED, Records.SKIPPED, Records.EMPTY, Records.FAILED)

    query = models.ForeignKey(NetworkQuery, on_delete=models.CASCADE, related_name="sources")
    source_type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    records = models.CharField(max_length=16, choices=Records.choices, default=Records.NONE)
    records_saved = models.PositiveIntegerField(
        default=0, help_text=_("Resources the last bundle saved for this source held (a count, no health data).")
    )
    reason = models.CharField(max_length=300, blank=True, help_text=_("Plain words, shown to the person."))
    http_status = models.PositiveIntegerField(null=True, blank=True)
    network_message = models.CharField(max_length=500, blank=True, help_text=_("The network's own words, for staff."))
    started_at = models.DateTimeField(null=True, blank=True)
    first_data_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("query source")
        verbose_name_plural = _("query sources")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["query", "source_type"], name="ias_source_once_per_query")]

    def __str__(self) -> str:
        return f"{self.source_type}: {self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def is_settled(self) -> bool:
        """Finished for the person: a failure, or an answer whose records are in (or known absent)."""
        if self.status != self.Status.COMPLETED:
            return self.is_terminal
        return self.records in self.RECORDS_SETTLED


class WebhookEvent(models.Model):
    """One delivery from the network, stored once per `meta.messageId` before anything else happens."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be processed")
        PROCESSED = "processed", _("processed")
        IGNORED = "ignored", _("stored, nothing to do")
        FAILED = "failed", _("failed (gave up)")

    network = network_field()
    message_id = models.CharField(max_length=200, db_index=True)
    event_type = models.CharField(max_length=100, db_index=True)
    request_id = models.CharField(max_length=100, blank=True, db_index=True)
    network_patient_id = models.CharField(max_length=100, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text=_("`meta.when`"))
    body_encrypted = models.BinaryField(editable=False)
    body_size = models.PositiveIntegerField(default=0)
    signature_valid = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text=_("A worker is processing this event until then (a lease, not a lock).")
    )
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"])]
        constraints = [models.UniqueConstraint(fields=["network", "message_id"], name="ias_event_once_per_network")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id}"


class PatientDeletion(models.Model):
    """A durable promise to delete a patient at the network; retried until the network confirms."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")

    network = network_field()
    network_patient_id = models.CharField(max_length=100)
    facility_id = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("deletion at the network")
        verbose_name_plural = _("deletions at the network")
        constraints = [
            models.UniqueConstraint(fields=["network", "network_patient_id"], name="ias_deletion_once_per_network")
        ]

    def __str__(self) -> str:
        return f"delete {self.network_patient_id} ({self.status})"
