"""The sandbox network's own state: its patients, identity artefacts, queries and webhook deliveries.

These rows belong to the simulated network, not to Homeport: the portal never reads them.
"""

import secrets
import uuid

from django.db import models
from django.utils import timezone


def _prefixed(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_patient_id() -> str:
    return str(uuid.uuid4())


def new_session_id() -> str:
    return _prefixed("ids")


def new_proofed_identity_id() -> str:
    return _prefixed("pid")


def new_challenge_id() -> str:
    return _prefixed("aalc")


def new_aal2_session_id() -> str:
    return _prefixed("aal2")


class AccountSettings(models.Model):
    """The single account's webhook settings (`POST /settings`); absent means the Django defaults."""

    account_id = models.UUIDField(default=uuid.uuid4, editable=False)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_key = models.CharField(max_length=200, blank=True)
    webhook_enabled = models.BooleanField(default=True)
    webhook_status_detail = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "account settings"
        verbose_name_plural = "account settings"

    def __str__(self) -> str:
        return f"Account {self.account_id}"


class Patient(models.Model):
    """A patient created through the API; its record is generated from (seed, size, persona)."""

    id = models.CharField(primary_key=True, max_length=64, default=new_patient_id, editable=False)
    facility_id = models.CharField(max_length=100)
    external_id = models.CharField(max_length=200, blank=True)
    demographics = models.JSONField(default=dict)
    persona = models.CharField(max_length=20, default="ordinary")
    record_size = models.PositiveIntegerField(default=600)
    etag = models.CharField(max_length=40, default="1")
    date_created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date_created"]

    def __str__(self) -> str:
        return f"Patient {self.id} ({self.persona})"


class IdentitySession(models.Model):
    """A hosted IAL2 proofing session (what `sessionUrl` opens); single use."""

    STATUS_CHOICES = [("pending", "pending"), ("completed", "completed"), ("expired", "expired")]
    OUTCOME_CHOICES = [
        ("", "none yet"),
        ("verified", "verified"),
        ("failed", "failed"),
        ("abandoned", "abandoned"),
    ]

    id = models.CharField(primary_key=True, max_length=64, default=new_session_id, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identity_sessions")
    redirect_url = models.URLField(max_length=1000)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default="pending")
    outcome = models.CharField(max_length=20, choices=OUTCOME_CHOICES, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class ProofedIdentity(models.Model):
    """The result of a verified session; carries the TOTP secret its AAL2 challenges check."""

    id = models.CharField(primary_key=True, max_length=64, default=new_proofed_identity_id, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="proofed_identities")
    session = models.OneToOneField(IdentitySession, on_delete=models.CASCADE, related_name="proofed_identity")
    totp_secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "proofed identities"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class Aal2Challenge(models.Model):
    """A hosted multifactor challenge (what `challengeUrl` opens); single use."""

    STATUS_CHOICES = [("pending", "pending"), ("verified", "verified"), ("failed", "failed")]

    id = models.CharField(primary_key=True, max_length=64, default=new_challenge_id, editable=False)
    identity = models.ForeignKey(ProofedIdentity, on_delete=models.CASCADE, related_name="challenges")
    redirect_url = models.URLField(max_length=1000)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default="pending")
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class Aal2Session(models.Model):
    """Proof that the person passed AAL2 recently; an IAS query must present an unexpired one."""

    id = models.CharField(primary_key=True, max_length=64, default=new_aal2_session_id, editable=False)
    identity = models.ForeignKey(ProofedIdentity, on_delete=models.CASCADE, related_name="aal2_sessions")
    challenge = models.OneToOneField(Aal2Challenge, on_delete=models.CASCADE, related_name="session")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class NetworkQuery(models.Model):
    request_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="network_queries")
    purpose_of_use = models.CharField(max_length=20, default="treatment")
    proofed_identity_id = models.CharField(max_length=64, blank=True)
    aal2_session_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    origin = models.CharField(max_length=200, blank=True, help_text="scheme and host the API was called on")
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "network queries"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return str(self.request_id)


class NetworkQuerySource(models.Model):
    STATUS_CHOICES = [("processing", "processing"), ("completed", "completed"), ("failed", "failed")]

    query = models.ForeignKey(NetworkQuery, on_delete=models.CASCADE, related_name="sources")
    type = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default="processing")
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    first_data_ready_at = models.DateTimeField(null=True, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["query", "order"]
        constraints = [models.UniqueConstraint(fields=["query", "type"], name="sandbox_query_source_once")]

    def __str__(self) -> str:
        return f"{self.query_id} {self.type}"


class ConsolidatedQuery(models.Model):
    STATUS_CHOICES = [("processing", "processing"), ("completed", "completed"), ("failed", "failed")]

    request_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consolidated_queries")
    conversion_type = models.CharField(max_length=10)
    resources = models.JSONField(default=list, blank=True)
    date_from = models.CharField(max_length=10, blank=True)
    date_to = models.CharField(max_length=10, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default="processing")
    origin = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "consolidated queries"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return str(self.request_id)


class DocumentJob(models.Model):
    """A document query or a bulk download-URL request, answered by webhooks."""

    KIND_CHOICES = [("query", "document query"), ("bulk-urls", "bulk download URLs")]

    request_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="document_jobs")
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    status = models.CharField(max_length=20, default="processing")
    metadata = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.request_id}"


class WebhookDelivery(models.Model):
    """One webhook message; the raw body is kept so a retry resends the very same bytes."""

    STATUS_CHOICES = [
        ("pending", "pending"),
        ("delivered", "delivered"),
        ("failed", "failed"),
        ("dropped", "dropped (fault injection)"),
    ]

    NETWORK_CHOICES = [("metriport", "Metriport"), ("particle", "Particle")]

    message_id = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
    network = models.CharField(max_length=20, choices=NETWORK_CHOICES, default="metriport")
    type = models.CharField(max_length=80)
    request_id = models.CharField(max_length=64, blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    url = models.URLField(max_length=500)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default="pending", db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"


class Fault(models.Model):
    """A fault to inject, for one patient or (no patient) for everyone."""

    KIND_CHOICES = [
        ("duplicate", "deliver every webhook twice"),
        ("out_of_order", "deliver a query's webhooks in reverse order"),
        ("delay", "delay webhooks by `seconds`"),
        ("drop", "drop webhooks (of type starting with `target`, or all)"),
        ("source_fail", "the source in `target` fails (hie, pharmacy or lab)"),
        ("expired_link", "download links are already expired"),
        ("api_slow", "API answers after `seconds`"),
        ("api_5xx", "API answers 503"),
        ("fail_event", "links in webhooks (of type starting with `target`, or all) answer 500: processing fails"),
        ("query_fail", "Particle queries end FAILED"),
        ("expired_token", "Particle refuses its tokens `seconds` after issuing them, long before they expire"),
    ]

    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="faults")
    target = models.CharField(max_length=80, blank=True, help_text="a source or a webhook type prefix")
    seconds = models.FloatField(default=5.0)
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        scope = f"patient {self.patient_id}" if self.patient_id else "everyone"
        return f"{self.kind} ({scope})"


class ParticlePatient(models.Model):
    """A person registered through the sandbox's Particle API (`POST /api/v2/patients`)."""

    id = models.CharField(primary_key=True, max_length=64, default=new_patient_id, editable=False)
    external_id = models.CharField(max_length=200, unique=True, help_text="the caller's patient_id")
    demographics = models.JSONField(default=dict)
    persona = models.CharField(max_length=20, default="ordinary")
    record_size = models.PositiveIntegerField(default=600)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Particle patient {self.id} ({self.persona})"


class ParticleQuery(models.Model):
    """One Particle query: its state follows the clock (404, PENDING, PROCESSING, then `outcome`)."""

    OUTCOME_CHOICES = [("COMPLETE", "COMPLETE"), ("PARTIAL", "PARTIAL"), ("FAILED", "FAILED")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(ParticlePatient, on_delete=models.CASCADE, related_name="queries")
    purpose_of_use = models.CharField(max_length=20)
    specialties = models.JSONField(default=list, blank=True)
    hints = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=10, choices=OUTCOME_CHOICES, default="COMPLETE")
    error_message = models.CharField(max_length=300, blank=True)
    files = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(default=timezone.now)
    visible_at = models.DateTimeField(help_text="before this the status endpoint answers 404")
    running_at = models.DateTimeField()
    finish_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "Particle queries"
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return str(self.id)
