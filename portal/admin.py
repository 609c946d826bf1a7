"""The staff console: one page per person (their whole journey, newest first, with the actions
staff need), finding a person by name or by any network id, and deletion receipts.

Portal sits on top of every app, so the person page lives here and replaces the user admin of
`accounts` with a subclass that adds it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from accounts.admin import ReadOnlyAdmin, UserAdmin, staff_read
from accounts.http import AuthedRequest
from accounts.mail import email_resend
from accounts.models import EmailSent, User
from ias import delivery, events, queries, query_state
from ias.lookup import events_for_person
from ias.models import NetworkQuery, QuerySource
from ias.network import NetworkPermanentError, NetworkTransientError
from portal import staff
from portal.models import AccountDeletion
from records.exports import bundle_stream


class PersonUserAdmin(UserAdmin):
    """Users, found by email, name, network patient id, request id or webhook message id."""

    list_display = ["email", "journey_link", "is_staff", "is_active", "date_joined"]
    search_help_text = gettext_lazy(
        "Email, a name (whole words), a network patient id, a request id or a webhook message id."
    )

    @admin.display(description=gettext_lazy("Person page"))
    def journey_link(self, obj: User) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:accounts_user_journey", args=[obj.pk]), gettext("Open journey")
        )

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        ids = staff.person_ids_matching(text=search_term)
        if ids:
            found = found | queryset.filter(pk__in=ids)
        return found, may_have_duplicates

    def get_urls(self):
        extra = [
            path(
                "<path:object_id>/journey/", self.admin_site.admin_view(self.journey_view), name="accounts_user_journey"
            ),
            path(
                "<path:object_id>/journey/act/",
                self.admin_site.admin_view(require_POST(self.journey_act)),
                name="accounts_user_journey_act",
            ),
        ]
        return extra + super().get_urls()

    def journey_view(self, request: AuthedRequest, object_id: str) -> HttpResponse:
        """Everything that happened to one person; opening it is a logged staff read."""
        person = get_object_or_404(User, pk=unquote(object_id))
        prompt = staff_read(request, subject=person, action="staff:person", target="person page")
        if prompt is not None:
            return prompt
        journey = staff.person_journey(user=person)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Journey of %(email)s") % {"email": person.email},
            "journey": journey,
            "person": person,
            "opts": self.opts,
            "events_url": f"{reverse('admin:ias_webhookevent_changelist')}?person={person.pk}",
        }
        response = TemplateResponse(request, "admin/accounts/user/journey.html", context)
        response.headers["Cache-Control"] = "no-store, private"
        return response

    def journey_act(self, request: AuthedRequest, object_id: str) -> HttpResponseBase:
        """The person page's buttons: each checks that the row belongs to this person."""
        person = get_object_or_404(User, pk=unquote(object_id))
        back = HttpResponseRedirect(reverse("admin:accounts_user_journey", args=[person.pk]))
        action = request.POST.get("action", "")
        try:
            target = int(request.POST.get("target", "0"))
        except ValueError:
            target = 0
        if action == "export":
            return self._export(request, person)
        try:
            message = self._act(request, person, action, target)
        except (NetworkTransientError, NetworkPermanentError) as exc:
            messages.error(request, gettext("The network did not answer as expected: %(error)s") % {"error": exc})
            return back
        if message is None:
            messages.error(request, gettext("That action does not apply to this person."))
        else:
            messages.success(request, message)
        return back

    def _act(self, request: AuthedRequest, person: User, action: str, target: int) -> str | None:
        if action == "reprocess":
            if not events_for_person(user=person).filter(pk=target).exists():
                return None
            events.webhook_event_reprocess(event_id=target)
            return gettext("The event is queued again; reload this page in a moment to see its outcome.")
        if action == "poll":
            if not NetworkQuery.objects.filter(pk=target, user=person).exists():
                return None
            query = queries.query_poll(query_id=target)
            return gettext("Polled the network: the query is %(status)s.") % {"status": query.get_status_display()}
        if action == "retry_source":
            source = QuerySource.objects.filter(pk=target, query__user=person).first()
            if source is None:
                return None
            again = delivery.consolidated_query_start(user_id=person.pk, parent_id=source.query_id)
            if again is None:
                return gettext("Not asked again: no network link, or this query already asked three times.")
            query_state.source_records_set(source_id=source.pk, records=QuerySource.Records.AWAITING)
            return gettext("Asked the network for the record again; the source shows the result when it arrives.")
        if action == "resend_email":
            if not EmailSent.objects.filter(pk=target, user=person).exists():
                return None
            resent = email_resend(email_id=target, request=request)
            if resent is None:
                return gettext("Not sent: this message carries a secret link (or the address is already confirmed).")
            return gettext("Sent again to %(address)s.") % {"address": resent.to_email}
        return None

    def _export(self, request: AuthedRequest, person: User) -> HttpResponseBase:
        prompt = staff_read(
            request,
            subject=person,
            action="staff:export",
            target="bundle.json",
            next_url=reverse("admin:accounts_user_journey", args=[person.pk]),
        )
        if prompt is not None:
            return prompt
        response = StreamingHttpResponse(bundle_stream(user_id=person.pk), content_type="application/fhir+json")
        response["Content-Disposition"] = f'attachment; filename="homeport-record-{person.pk}.json"'
        response["Cache-Control"] = "no-store, private"
        return response


admin.site.unregister(User)
admin.site.register(User, PersonUserAdmin)


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdmin):
    """Proof that a deletion request was carried out, without anything that identifies the person."""

    list_display = ["requested_at", "user_id_was", "completed_at", "network_deletion_scheduled", "notified_at"]
    list_filter = ["network_deletion_scheduled", ("notified_at", admin.EmptyFieldListFilter)]
    search_fields = ["email_hash", "user_id_was"]
    exclude = ["notify_email_encrypted"]
    date_hierarchy = "requested_at"
