"""Staff views of accounts, and the rule every staff read of health data follows: a reason first,
then one line in the person's access log, which they see as "Homeport support"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy, ngettext

from accounts.http import AuthedRequest
from accounts.models import AccessLogEntry, Consent, EmailSent, User
from accounts.selectors import STAFF_REASON_CHOICES, staff_reason_current
from accounts.services import account_unlock_by_staff, staff_access_record, staff_reason_remember


class LabelledSplitDateTime(AdminSplitDateTime):
    """The admin's date and time boxes, each with an accessible name of its own (the field's label
    only names the first box)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.widgets[0].attrs["aria-label"] = gettext_lazy("Date")
        self.widgets[1].attrs["aria-label"] = gettext_lazy("Time")


LABELLED_DATETIME: dict[type[models.Field], dict[str, Any]] = {models.DateTimeField: {"widget": LabelledSplitDateTime}}


class StaffReasonForm(forms.Form):
    choice = forms.ChoiceField(
        label=gettext_lazy("Why are you opening this person's health data?"),
        choices=STAFF_REASON_CHOICES,
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label=gettext_lazy("Details (a ticket number, or what you are looking for)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"size": 60}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("choice", "").startswith("Other") and not data.get("details", "").strip():
            self.add_error("details", gettext("Say why in a few words."))
        return data

    def reason(self) -> str:
        choice = self.cleaned_data["choice"].removesuffix(" (explain below)")
        details = self.cleaned_data.get("details", "").strip()
        return f"{choice}: {details}" if details else choice


def staff_reason_url(*, subject_id: int, next_url: str) -> str:
    return f"{reverse('admin:accounts_user_access_reason', args=[subject_id])}?{urlencode({'next': next_url})}"


def staff_read(
    request: AuthedRequest, *, subject: User, action: str, target: str = "", next_url: str = ""
) -> HttpResponseRedirect | None:
    """Log a staff read of `subject`'s health data, or (no reason given lately) send staff to say why.

    Returns the redirect to the reason page, or None once the read is logged and may go ahead."""
    reason = staff_reason_current(request=request, subject_id=subject.pk)
    if reason is None:
        next_url = next_url or request.get_full_path()
        return HttpResponseRedirect(staff_reason_url(subject_id=subject.pk, next_url=next_url))
    staff_access_record(request=request, subject=subject, action=action, target=target, reason=reason)
    return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows: staff read them, nobody edits them from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HealthDataAdmin(ReadOnlyAdmin):
    """A read-only admin whose detail page shows a person's health data: opening it asks for a
    reason and is logged in that person's access log."""

    health_action = "staff:record"

    def health_subject(self, obj: Any) -> User | None:
        return getattr(obj, "user", None)

    def health_target(self, obj: Any) -> str:
        return f"{self.model._meta.model_name} {obj.pk}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id)) if request.method in ("GET", "HEAD") else None
        subject = self.health_subject(obj) if obj is not None else None
        if subject is not None:
            prompt = staff_read(request, subject=subject, action=self.health_action, target=self.health_target(obj))
            if prompt is not None:
                return prompt
            extra_context = {**(extra_context or {}), "staff_read_subject": subject}
        return super().change_view(request, object_id, form_url, extra_context)


class SignInLockedFilter(admin.SimpleListFilter):
    title = gettext_lazy("sign-in")
    parameter_name = "sign_in"

    def lookups(self, request, model_admin):
        return [("locked", gettext_lazy("Locked after wrong attempts"))]

    def queryset(self, request, queryset):
        if self.value() == "locked":
            return queryset.filter(mfa_locked_at__isnull=False)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", SignInLockedFilter]
    actions = ["unlock_sign_in"]
    readonly_fields = ["sign_in_locked_since"]
    search_fields = ["email", "full_name"]
    formfield_overrides = LABELLED_DATETIME
    filter_horizontal = ()  # plain multi-selects: the two-box widget's icons fail axe (aria on a span)
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (gettext_lazy("Person"), {"fields": ["full_name"]}),
        (
            gettext_lazy("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (gettext_lazy("Dates"), {"fields": ["last_login", "date_joined"]}),
        (gettext_lazy("Sign-in"), {"fields": ["sign_in_locked_since"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    @admin.display(description=gettext_lazy("Locked since"))
    def sign_in_locked_since(self, obj: User) -> Any:
        return obj.mfa_locked_at or gettext_lazy("Not locked")

    @admin.action(description=gettext_lazy("Unlock sign-in of the selected locked accounts"), permissions=["change"])
    def unlock_sign_in(self, request: AuthedRequest, queryset: models.QuerySet[User]) -> None:
        """For a person who asked support (identity checked outside Homeport); they are emailed."""
        count = account_unlock_by_staff(user_ids=queryset.values_list("pk", flat=True), staff_id=request.user.pk)
        self.message_user(
            request,
            ngettext(
                "%(count)d account unlocked; the person was emailed.",
                "%(count)d accounts unlocked; each person was emailed.",
                count,
            )
            % {"count": count},
        )

    def get_urls(self):
        extra = [
            path(
                "<path:object_id>/reason/",
                self.admin_site.admin_view(self.access_reason_view),
                name="accounts_user_access_reason",
            )
        ]
        return extra + super().get_urls()

    def access_reason_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask why before showing a person's health data; the answer is kept 15 minutes for this person."""
        subject = get_object_or_404(User, pk=unquote(object_id))
        next_url = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=False):
            next_url = reverse("admin:accounts_user_change", args=[subject.pk])
        form = StaffReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            staff_reason_remember(request=request, subject_id=subject.pk, reason=form.reason())
            return HttpResponseRedirect(next_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Why are you opening this?"),
            "subject": subject,
            "form": form,
            "next": next_url,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/accounts/user/access_reason.html", context)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["user", "purpose", "notice_version", "given_at", "revoked_at"]
    list_filter = ["purpose", "notice_version", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__email"]
    date_hierarchy = "given_at"


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "actor_kind", "subject", "action", "target", "reason", "ip"]
    list_filter = ["actor_kind", "action"]
    search_fields = ["subject__email", "actor__email", "target", "ip"]
    date_hierarchy = "at"
    list_select_related = ["actor", "subject"]


@admin.register(EmailSent)
class EmailSentAdmin(ReadOnlyAdmin):
    list_display = ["sent_at", "user", "to_email", "template_prefix", "subject", "resent_by"]
    list_filter = ["template_prefix"]
    search_fields = ["user__email", "to_email"]
    date_hierarchy = "sent_at"
    list_select_related = ["user", "resent_by"]
    exclude = ["context"]
