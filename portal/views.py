"""The shell every person passes through: home, journey router, health check, notice, account rights."""

import time
from typing import cast

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language
from kombu import Connection

from accounts.decorators import health_data_required
from accounts.http import AuthedRequest, client_ip
from accounts.selectors import access_log_for, consent_history
from accounts.services import access_log_record
from ias.particle import off_reason as particle_off_reason
from ias.selectors import networks_asked
from portal.forms import AccountDeleteForm, ConsentRevokeForm, PreferencesForm
from portal.selectors import (
    PrivacyNotice,
    account_export_zip,
    address_time_zone_for,
    consent_any_active,
    consent_states,
    privacy_notice_get,
    privacy_notice_versions,
)
from portal.services import account_consent_revoke, account_language_save, account_preferences_save
from portal.services import account_delete as delete_account

ACCESS_LOG_ON_PAGE = 50


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The header's language switch: Django's set_language, and stored on the account when signed in."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        account_language_save(user=cast(AuthedRequest, request).user, language=language)
    return response


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "portal/landing.html")
    return render(request, "portal/home.html")


@login_required
def start(request: AuthedRequest) -> HttpResponse:
    """Resume the journey wherever the person left it."""
    from ias.selectors import journey_next_url

    return redirect(journey_next_url(user=request.user))


def _database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_reachable() -> bool:
    """A fresh connection to the configured broker, so the answer is about now, not a pooled past."""
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    database = _database_reachable()
    broker = _broker_reachable()
    return JsonResponse(
        {
            "status": "ok" if database and broker else "degraded",
            "database": database,
            "broker": broker,
            "sandbox": settings.SANDBOX_ENABLED,
            "particle": {"ready": not particle_off_reason(), "reason": particle_off_reason()},
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


def _render_notice(request: HttpRequest, notice: PrivacyNotice, *, status: int = 200) -> HttpResponse:
    """The notice in the reader's language when a translation of that version exists, else as published."""
    localized = notice.template.removesuffix(".html") + f".{translation.get_language()}.html"
    return render(
        request,
        "portal/privacy.html",
        {
            "notice": notice,
            "notice_template": select_template([localized, notice.template]).template.name,
            "notice_version": notice.version,
            "is_current": notice.version == settings.PRIVACY_NOTICE_VERSION,
            "versions": privacy_notice_versions(),
            "networks": networks_asked(),
        },
        status=status,
    )


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    """The public Privacy & Security Notice; its text is versioned by PRIVACY_NOTICE_VERSION."""
    notice = privacy_notice_get()
    if notice is None:
        raise ImproperlyConfigured(
            f"PRIVACY_NOTICE_VERSION {settings.PRIVACY_NOTICE_VERSION!r} has no text in portal.selectors."
        )
    return _render_notice(request, notice)


@require_GET
def privacy_version(request: HttpRequest, version: str) -> HttpResponse:
    """An earlier (or the current) version of the notice, so a consent can be read against its text."""
    notice = privacy_notice_get(version=version)
    if notice is None:
        raise Http404("No such version of the privacy notice.")
    return _render_notice(request, notice)


@login_required
@require_http_methods(["GET", "POST"])
def account(request: AuthedRequest) -> HttpResponse:
    """Sign-in security, preferences, consent (current and history), access history, and the data rights."""
    address_zone = address_time_zone_for(user=request.user)
    if request.method == "POST":
        preferences = PreferencesForm(request.POST, address_zone=address_zone)
        if preferences.is_valid():
            language = preferences.cleaned_data.pop("language")
            account_preferences_save(user=request.user, **preferences.cleaned_data)
            if language and language != request.user.language:
                account_language_save(user=request.user, language=language)
                translation.activate(language)
            messages.success(request, _("Your preferences are saved."))
            return redirect(reverse("account") + "#preferences")
    else:
        preferences = PreferencesForm(
            initial={
                "time_zone": request.user.time_zone or PreferencesForm.FROM_ADDRESS,
                "measurement_units": request.user.measurement_units,
                "email_notifications": request.user.email_notifications,
                "language": request.user.language or translation.get_language(),
            },
            address_zone=address_zone,
        )
    return render(
        request,
        "portal/account.html",
        {
            "preferences": preferences,
            "consent_states": consent_states(user=request.user),
            "consent_history": consent_history(user=request.user),
            "consent_any_active": consent_any_active(user=request.user),
            "access_log": access_log_for(subject=request.user)[:ACCESS_LOG_ON_PAGE],
            "notice_version": settings.PRIVACY_NOTICE_VERSION,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def consent_revoke(request: AuthedRequest) -> HttpResponse:
    """Withdraw consent in one step; no further query may start afterwards (the journey checks)."""
    form = ConsentRevokeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        revoked = account_consent_revoke(user=request.user, ip=client_ip(request))
        if revoked:
            messages.success(
                request,
                _("Your consent is withdrawn. Homeport will not ask the networks for your records again."),
            )
        else:
            messages.info(request, _("You had no active consent to withdraw."))
        return redirect("account")
    return render(
        request,
        "portal/consent_revoke.html",
        {"form": form, "consent_any_active": consent_any_active(user=request.user)},
    )


@health_data_required
@reauthentication_required(allow_get=True)
@require_http_methods(["GET", "POST"])
def account_export(request: AuthedRequest) -> HttpResponse:
    """Everything Homeport holds about the person as one zip; the download needs a fresh sign-in."""
    if request.method == "GET":
        return render(request, "portal/account_export.html")
    archive = account_export_zip(user=request.user)
    access_log_record(request=request, subject=request.user, action="export", target="account:export")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="homeport-export-{stamp}.zip"'
    response["Cache-Control"] = "no-store, private"
    return response


@health_data_required
@reauthentication_required(allow_get=True)
@require_http_methods(["GET", "POST"])
def account_delete(request: AuthedRequest) -> HttpResponse:
    """Delete the account and everything in it, after a fresh sign-in and a typed confirmation."""
    form = AccountDeleteForm(request.POST if request.method == "POST" else None, email=request.user.email)
    if request.method == "POST" and form.is_valid():
        deletion = delete_account(user_id=request.user.pk)
        logout(request)
        request.session["deletion_reached_network"] = deletion.network_deletion_scheduled
        return redirect("account_deleted")
    return render(request, "portal/account_delete.html", {"form": form})


@require_GET
def account_deleted(request: HttpRequest) -> HttpResponse:
    """Says what was removed; whether the network was asked too is left in the new, anonymous session."""
    reached_network = bool(request.session.pop("deletion_reached_network", False))
    return render(request, "portal/account_deleted.html", {"reached_network": reached_network})


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a plain page with the operator's contact, rendered without touching the database."""
    body = render_to_string("500.html", {"OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL})
    return HttpResponse(body, status=500)
