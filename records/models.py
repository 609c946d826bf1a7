"""A person's record: one row per FHIR resource, and one snapshot row per bundle fetched."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

# The health networks a record can hold items from, with the names people know them by.
NETWORK_DEFAULT = "metriport"
NETWORK_NAMES = {"metriport": "Metriport", "particle": "Particle"}
# Interpretation codes that mean "outside the usual range".
ABNORMAL_FLAGS = ("H", "L", "HH", "LL", "A", "AA", "HU", "LU")


class Snapshot(models.Model):
    """One fetch of a consolidated bundle: where it came from, what it held, how long it took."""

    STATUS_RUNNING = "running"
    STATUS_COMPLETE = "complete"
    STATUS_FAILED = "failed"
    STATUS_CHOICES = [(STATUS_RUNNING, _("Running")), (STATUS_COMPLETE, _("Complete")), (STATUS_FAILED, _("Failed"))]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="record_snapshots")
    network = models.CharField(
        max_length=16, default=NETWORK_DEFAULT, help_text="The health network that delivered the bundle."
    )
    network_source = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=STATUS_RUNNING)
    failure_reason = models.CharField(max_length=200, blank=True)
    bundle_file = models.CharField(max_length=255, blank=True, help_text=_("Encrypted, gzip-compressed copy."))
    bundle_sha256 = models.CharField(max_length=64, blank=True)
    bundle_bytes = models.BigIntegerField(default=0)
    resource_count = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    unchanged_count = models.IntegerField(default=0)
    retired_count = models.IntegerField(default=0)
    skipped_count = models.IntegerField(default=0, help_text=_("Entries that were not readable resources."))
    counts_by_type = models.JSONField(default=dict, blank=True)
    counts_by_source = models.JSONField(default=dict, blank=True)
    download_ms = models.IntegerField(default=0)
    ingest_ms = models.IntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
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
    network = models.CharField(
        max_length=16, default=NETWORK_DEFAULT, help_text="Ids and references are unique within one network."
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
    clinical_date_text = models.CharField(max_length=64, blank=True, help_text=_("As given; partial dates kept."))
    value_num = models.FloatField(null=True, blank=True)
    value_unit = models.CharField(max_length=64, blank=True, help_text=_("Unit key: the UCUM code when coded."))
    flag = models.CharField(max_length=8, blank=True, help_text=_("H, L, HH, LL, A, AA, N or empty."))
    source_org = models.CharField(max_length=255, blank=True)
    network_source = models.CharField(max_length=64, blank=True)
    encounter_ref = models.CharField(max_length=200, blank=True)
    parent_ref = models.CharField(
        max_length=200, blank=True, help_text=_("Panel holding a result, or the target of a Provenance.")
    )
    dedupe_key = models.CharField(max_length=32, blank=True)
    is_primary = models.BooleanField(default=True, help_text=_("First row of the items that are the same."))
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
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "network", "resource_type", "resource_id"], name="records_resource_unique_in_network"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "category", "clinical_date"], name="records_res_cat_date"),
            models.Index(fields=["user", "resource_type", "code"], name="records_res_type_code"),
            models.Index(fields=["user", "dedupe_key"], name="records_res_dedupe"),
            models.Index(fields=["user", "encounter_ref"], name="records_res_encounter"),
            models.Index(fields=["user", "first_snapshot"], name="records_res_first_snap"),
            models.Index(fields=["user", "parent_ref"], name="records_res_parent"),
            # The newest abnormal results and "outside the usual range": a few thousand flagged rows among a
            # category's tens of thousands (none at all walked every vital); partial, so an ingest writes
            # it for the flagged rows only.
            models.Index(
                fields=["user", "category", "clinical_date"],
                condition=models.Q(flag__in=ABNORMAL_FLAGS),
                name="records_res_abnormal",
            ),
            # A lab page: the panels and the results outside any panel, newest first. Walking the date
            # index read every result inside a panel too (three rows of four), so page 50 read 11,000
            # rows; partial, so an ingest writes it for those rows only.
            models.Index(
                fields=["user", "clinical_date", "id"],
                condition=models.Q(category="labs", is_primary=True, retired_at__isnull=True)
                & (models.Q(resource_type="DiagnosticReport") | models.Q(parent_ref="")),
                name="records_res_listed_lab",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"

    @property
    def logged_reference(self) -> str:
        """The reference an access-log line names: another network's ids say which network."""
        return self.reference if self.network == NETWORK_DEFAULT else f"{self.network}:{self.reference}"


class RecordCensus(models.Model):
    """How many current items a person has, per category, source, type, primary or not and inside a
    panel or not: counted once per ingest, so that the pages do not count tens of thousands of rows
    on every view. Written only by `records.services.census_refresh` (each ingest, an undone one);
    anything else that changes a person's resources must call it too. Without one, pages count live.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="record_census")
    groups = models.JSONField(
        default=list, help_text="[category, source, resource type, primary, in a panel, abnormal, count] per group."
    )
    counted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("record census")
        verbose_name_plural = _("record censuses")

    def __str__(self) -> str:
        return f"Record census of user {self.user_id}"


class Explanation(models.Model):
    """MedlinePlus Connect's answer for one code in one language, kept so each code is asked once.

    Holds only public reference text about a code, never anything about a person.
    """

    code_system = models.CharField(max_length=255)
    code = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    topics = models.JSONField(default=list, blank=True, help_text=_("[{title, url, summary_html}], sanitised."))
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("explanation")
        verbose_name_plural = _("explanations")
        constraints = [
            models.UniqueConstraint(fields=["code_system", "code", "language"], name="records_explanation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.code_system} {self.code} ({self.language})"


class ExplanationSetting(models.Model):
    """Staff's switch for MedlinePlus explanations, and the shared count that keeps every process
    together under MedlinePlus's published limit (requests per rolling minute)."""

    enabled = models.BooleanField(default=True, help_text=_("Offer 'What is this?' explanations from MedlinePlus."))
    recent_calls = models.JSONField(
        default=list, blank=True, help_text=_("Times (epoch seconds) of the last minute's requests.")
    )

    class Meta:
        verbose_name_plural = _("plain-language explanations settings")
        verbose_name = _("plain-language explanations setting")

    def __str__(self) -> str:
        return gettext("MedlinePlus explanations: on") if self.enabled else gettext("MedlinePlus explanations: off")


class Share(models.Model):
    """One SMART Health Link a person made: what it carries, until when, and whether it still works.

    The link's key is never stored: the files below are kept only as JWE ciphertext made with it, and
    the passcode only as a hash.
    """

    SCOPE_SUMMARY = "summary"
    SCOPE_EVERYTHING = "everything"
    SCOPE_CATEGORIES = "categories"
    SCOPE_CHOICES = [
        (SCOPE_SUMMARY, gettext_noop("Patient summary")),
        (SCOPE_EVERYTHING, gettext_noop("The whole record")),
        (SCOPE_CATEGORIES, gettext_noop("Chosen parts")),
    ]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="record_shares")
    manifest_id = models.CharField(max_length=64, unique=True, help_text=_("Random path segment of the manifest URL."))
    label = models.CharField(max_length=80)
    scope = models.CharField(max_length=16, choices=SCOPE_CHOICES, default=SCOPE_SUMMARY)
    categories = models.JSONField(default=list, blank=True)
    flag = models.CharField(max_length=4, blank=True)
    passcode_hash = models.CharField(max_length=200, blank=True)
    failed_passcode_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True, help_text=_("Too many wrong passcodes."))
    files_deleted_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"Share {self.pk} ({self.state})"

    @property
    def has_passcode(self) -> bool:
        return bool(self.passcode_hash)

    @property
    def state(self) -> str:
        """active, expired, revoked or locked (the words the share list shows)."""
        if self.revoked_at:
            return "revoked"
        if self.locked_at:
            return "locked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_active(self) -> bool:
        return self.state == "active"


class ShareFile(models.Model):
    """One encrypted file of a share, as the manifest hands it out (compact JWE, never plaintext)."""

    KIND_BUNDLE = "bundle"
    KIND_PDF = "pdf"
    KIND_CHOICES = [(KIND_BUNDLE, "Summary (FHIR Bundle)"), (KIND_PDF, "Summary (PDF in a DocumentReference)")]

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    content_type = models.CharField(max_length=64, default="application/fhir+json")
    jwe = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("share file")
        verbose_name_plural = _("share files")
        ordering = ["share", "position"]

    def __str__(self) -> str:
        return f"Share {self.share_id} file {self.position} ({self.kind})"


class ShareOpening(models.Model):
    """One successful manifest request: who said they were, when and from where."""

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="openings")
    at = models.DateTimeField(default=timezone.now)
    recipient = models.CharField(max_length=200)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("share opening")
        verbose_name_plural = _("share openings")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"Share {self.share_id} opened {self.at:%Y-%m-%d %H:%M}"
