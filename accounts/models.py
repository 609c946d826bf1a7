"""Who the person is, what they consented to, and who looked at their record."""

from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account: signs in with an email address, no username."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_staff = models.BooleanField(default=False, help_text=_("Can sign in to the staff admin."))
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    UNITS_US = "us"
    UNITS_METRIC = "metric"
    UNITS_CHOICES = [(UNITS_US, "US (lb, ft and in, °F)"), (UNITS_METRIC, "Metric (kg, cm, °C)")]
    LANGUAGE_CHOICES = [("en", "English"), ("es", "Español")]
    language = models.CharField(
        max_length=8,
        blank=True,
        choices=LANGUAGE_CHOICES,
        help_text=_("The language Homeport speaks to this person in; empty means taken from the browser."),
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text=_("IANA time zone for showing times; empty means taken from the address.")
    )
    measurement_units = models.CharField(max_length=8, choices=UNITS_CHOICES, default=UNITS_US)
    email_notifications = models.BooleanField(
        default=True, help_text=_("Send 'records ready' and 'search failed' emails (no health data, only a link).")
    )
    mfa_failures_in_a_row = models.PositiveIntegerField(default=0)
    password_failures_in_a_row = models.PositiveIntegerField(default=0)
    mfa_locked_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Consent(models.Model):
    """One express consent for one purpose under one version of the privacy notice."""

    PURPOSE_IAS = "ias"
    PURPOSE_CHOICES = [(PURPOSE_IAS, _("Retrieve my records from health networks (Individual Access Services)"))]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=32, choices=PURPOSE_CHOICES, default=PURPOSE_IAS)
    notice_version = models.CharField(max_length=32)
    given_at = models.DateTimeField(default=timezone.now)
    given_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-given_at"]
        indexes = [models.Index(fields=["user", "purpose", "revoked_at"])]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.purpose} consent v{self.notice_version} ({state})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AccessLogEntry(models.Model):
    """Who opened whose record, what, when and from where (HIPAA §164.312(b) audit controls).

    `target` is a short label ("records:summary", "resource:Observation/abc"), never health data.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="access_made"
    )
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_log")
    ACTOR_SELF = "self"
    ACTOR_STAFF = "staff"
    ACTOR_SHARE = "share"
    ACTOR_KIND_CHOICES = [
        (ACTOR_SELF, _("The person")),
        (ACTOR_STAFF, _("Homeport support")),
        (ACTOR_SHARE, _("A share")),
    ]
    actor_kind = models.CharField(max_length=8, choices=ACTOR_KIND_CHOICES, default=ACTOR_SELF)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text=_("Why staff opened it, or who opened a share."))
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        ordering = ["-at"]
        verbose_name_plural = _("access log entries")
        indexes = [models.Index(fields=["subject", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    @property
    def action_label(self) -> str:
        """The action in words for the person reading their access history."""
        known = ACCESS_ACTION_LABELS.get(self.action)
        if known:
            return str(known)
        return self.action.rsplit(":", 1)[-1].replace("-", " ").replace("_", " ").capitalize()

    @property
    def reason_words(self) -> str:
        """The reason in the reader's language: a staff member's chosen reason is kept in English
        ("Checking a data-quality problem: ticket 12"), their details as they typed them."""
        if self.actor_kind != self.ACTOR_STAFF:
            return self.reason
        choice, colon, details = self.reason.partition(": ")
        if choice == STAFF_OTHER_REASON:
            return pgettext("staff reason", "Other") + colon + details
        if choice in STAFF_REASONS:
            return gettext(choice) + colon + details
        return self.reason


# Why staff open a person's health data: stored in English, shown in the reader's language.
STAFF_REASONS = (
    gettext_noop("The person asked support for help"),
    gettext_noop("Investigating a failed or stuck request"),
    gettext_noop("Checking a data-quality problem"),
    gettext_noop("Security or privacy investigation"),
)
STAFF_OTHER_REASON = "Other"


# Marked for translation; the access history page shows them in the reader's language.
ACCESS_ACTION_LABELS = {
    "records:summary": gettext_noop("Record summary"),
    "records:timeline": gettext_noop("Timeline"),
    "records:item": gettext_noop("One item in the record"),
    "records:trend": gettext_noop("A results chart"),
    "records:explain": gettext_noop("A plain-language explanation of one item"),
    "records:document": gettext_noop("A document"),
    "records:download": gettext_noop("Record download"),
    "records:downloads": gettext_noop("Downloads page"),
    "records:print": gettext_noop("Printable summary"),
    "records:access-history": gettext_noop("Access history"),
    "records:labs": gettext_noop("Lab results"),
    "export": gettext_noop("Download of all your data"),
    "staff:person": gettext_noop("Your account and request history"),
    "staff:demographics": gettext_noop("The details you gave for your request"),
    "staff:webhook-body": gettext_noop("A message from the health network"),
    "staff:snapshot": gettext_noop("A copy of your record as it arrived"),
    "staff:resource": gettext_noop("One item in the record"),
    "staff:export": gettext_noop("Download of your record"),
    "staff:share": gettext_noop("A link you made to share your record"),
}


class PersonNameToken(models.Model):
    """A keyed hash (HMAC-SHA256) of one normalised name token, so staff can find a person by name
    while the name itself stays only in the encrypted demographics."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="name_tokens")
    digest = models.CharField(max_length=64, db_index=True)

    class Meta:
        verbose_name = _("name search token")
        verbose_name_plural = _("name search tokens")
        constraints = [models.UniqueConstraint(fields=["user", "digest"], name="accounts_name_token_once")]

    def __str__(self) -> str:
        return f"name token of user {self.user_id}"


class EmailSent(models.Model):
    """One email sent to a person: which message, to which address, when (never its links or codes)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="emails_sent"
    )
    to_email = models.EmailField()
    template_prefix = models.CharField(
        max_length=120, help_text=_("Which message, e.g. account/email/email_confirmation.")
    )
    subject = models.CharField(max_length=300, blank=True)
    context = models.JSONField(
        default=dict, blank=True, help_text=_("Plain values needed to send it again; never links or codes.")
    )
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("email sent")
        ordering = ["-sent_at"]
        verbose_name_plural = _("emails sent")

    def __str__(self) -> str:
        return f"{self.template_prefix} to user {self.user_id} at {self.sent_at:%Y-%m-%d %H:%M}"
