"""A person's record: one row per FHIR resource, and one snapshot row per bundle fetched."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Snapshot(models.Model):
    """One fetch of a consolidated bundle: where it came from, what it held, how long it took."""

    STATUS_RUNNING = "running"
    STATUS_COMPLETE = "complete"
    STATUS_FAILED = "failed"
    STATUS_CHOICES = [(STATUS_RUNNING, "Running"), (STATUS_COMPLETE, "Complete"), (STATUS_FAILED, "Failed")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="record_snapshots")
    network_source = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=STATUS_RUNNING)
    failure_reason = models.CharField(max_length=200, blank=True)
    bundle_file = models.CharField(max_length=255, blank=True, help_text="Encrypted, gzip-compressed copy.")
    bundle_sha256 = models.CharField(max_length=64, blank=True)
    bundle_bytes = models.BigIntegerField(default=0)
    resource_count = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    unchanged_count = models.IntegerField(default=0)
    retired_count = models.IntegerField(default=0)
    skipped_count = models.IntegerField(default=0, help_text="Entries that were not readable resources.")
    counts_by_type = models.JSONField(default=dict, blank=True)
    counts_by_source = models.JSONField(default=dict, blank=True)
    download_ms = models.IntegerField(default=0)
    ingest_ms = models.IntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "request_id", "network_source"])]

    def __str__(self) -> str:
        return f"Snapshot {self.pk} ({self.network_source or 'upload'}, {self.status})"


class Resource(models.Model):
    """One FHIR resource of one person: the raw JSON plus the columns pages filter and sort on."""

    # No single-column indexes on these keys: every query leads with `user` and the composite indexes
    # below cover it; each index dropped makes the bulk COPY of an ingest measurably faster.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="record_resources", db_index=False
    )
    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=128)
    raw = models.JSONField()
    content_hash = models.CharField(max_length=32)
    category = models.CharField(max_length=32, blank=True)
    code_system = models.CharField(max_length=255, blank=True)
    code = models.CharField(max_length=128, blank=True)
    display = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=64, blank=True)
    clinical_date = models.DateTimeField(null=True, blank=True)
    clinical_date_text = models.CharField(max_length=64, blank=True, help_text="As given; partial dates kept.")
    value_num = models.FloatField(null=True, blank=True)
    value_unit = models.CharField(max_length=64, blank=True, help_text="Unit key: the UCUM code when coded.")
    flag = models.CharField(max_length=8, blank=True, help_text="H, L, HH, LL, A, AA, N or empty.")
    source_org = models.CharField(max_length=255, blank=True)
    network_source = models.CharField(max_length=64, blank=True)
    encounter_ref = models.CharField(max_length=200, blank=True)
    parent_ref = models.CharField(
        max_length=200, blank=True, help_text="Panel holding a result, or the target of a Provenance."
    )
    dedupe_key = models.CharField(max_length=32, blank=True)
    is_primary = models.BooleanField(default=True, help_text="First row of the items that are the same.")
    # Bookkeeping links written by the ingest in the same transaction that creates the snapshot; without
    # a database constraint PostgreSQL skips two deferred checks per row at commit (SET_NULL on delete
    # is Django's, so it still holds).
    first_snapshot = models.ForeignKey(
        Snapshot, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False, db_constraint=False
    )
    last_snapshot = models.ForeignKey(
        Snapshot, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False, db_constraint=False
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "resource_type", "resource_id"], name="records_resource_unique"),
        ]
        indexes = [
            models.Index(fields=["user", "category", "clinical_date"], name="records_res_cat_date"),
            models.Index(fields=["user", "resource_type", "code"], name="records_res_type_code"),
            models.Index(fields=["user", "dedupe_key"], name="records_res_dedupe"),
            models.Index(fields=["user", "encounter_ref"], name="records_res_encounter"),
            models.Index(fields=["user", "first_snapshot"], name="records_res_first_snap"),
            models.Index(fields=["user", "parent_ref"], name="records_res_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


class Explanation(models.Model):
    """MedlinePlus Connect's answer for one code in one language, kept so each code is asked once.

    Holds only public reference text about a code, never anything about a person.
    """

    code_system = models.CharField(max_length=255)
    code = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    topics = models.JSONField(default=list, blank=True, help_text="[{title, url, summary_html}], sanitised.")
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code_system", "code", "language"], name="records_explanation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code_system} {self.code} ({self.language})"


class ExplanationSetting(models.Model):
    """Staff's switch for MedlinePlus explanations, and the shared count that keeps every process
    together under MedlinePlus's published limit (requests per rolling minute)."""

    enabled = models.BooleanField(default=True, help_text="Offer 'What is this?' explanations from MedlinePlus.")
    recent_calls = models.JSONField(
        default=list, blank=True, help_text="Times (epoch seconds) of the last minute's requests."
    )

    class Meta:
        verbose_name = "plain-language explanations setting"

    def __str__(self) -> str:
        return "MedlinePlus explanations: " + ("on" if self.enabled else "off")
