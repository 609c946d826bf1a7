"""The journey's pages (consent → details → identity → AAL2 → sources → progress) and the webhook.

Views parse input, call one service and render; every page works without JavaScript.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import health_data_required
from accounts.http import AuthedRequest, client_ip
from accounts.models import Consent
from accounts.selectors import consent_current
from accounts.services import consent_record
from ias import particle_webhook, patients, queries, selectors, webhooks
from ias.aal2 import aal2_challenge_complete, aal2_challenge_start
from ias.errors import Aal2Mismatch, Aal2Refused, JourneyError, NetworkRefused, NetworkUnavailable, QueryRefused
from ias.forms import ConsentForm, DemographicsForm, SourcesForm
from ias.identity import IDENTITY_MAX_ATTEMPTS, identity_session_start
from ias.models import IdentityVerification
from ias.network import SourceChoice
from ias.queueing import enqueue_after_commit

log = logging.getLogger(__name__)


def _next(request: AuthedRequest) -> HttpResponse:
    return redirect(selectors.journey_next_url(user=request.user))


def _to_step(request: AuthedRequest, exc: JourneyError) -> HttpResponse:
    messages.error(request, gettext(str(exc)))
    return _next(request)


@health_data_required
@require_http_methods(["GET", "POST"])
def consent(request: AuthedRequest) -> HttpResponse:
    current = consent_current(user=request.user)
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        consent_record(
            user=request.user,
            notice_version=settings.PRIVACY_NOTICE_VERSION,
            purpose=Consent.PURPOSE_IAS,
            ip=client_ip(request),
        )
        messages.success(request, gettext("Thank you. Your consent is recorded; you can withdraw it at any time."))
        return _next(request)
    return render(
        request,
        "ias/consent.html",
        {
            "form": form,
            "current": current,
            "notice_version": settings.PRIVACY_NOTICE_VERSION,
            "networks": selectors.networks_asked(),
            "step": 1,
        },
    )


@health_data_required
@require_http_methods(["GET", "POST"])
def demographics(request: AuthedRequest) -> HttpResponse:
    if consent_current(user=request.user) is None:
        return redirect("ias:consent")
    link = selectors.network_patient_for(user=request.user)
    initial = DemographicsForm.initial_from_stored(selectors.network_patient_demographics(link=link) if link else {})
    form = DemographicsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            patients.network_patient_save(user=request.user, details=form.to_details())
        except (NetworkRefused, NetworkUnavailable) as exc:
            form.add_error(None, gettext(str(exc)))
        except JourneyError as exc:
            return _to_step(request, exc)
        else:
            if (
                selectors.query_latest(user=request.user) is not None
                and selectors.query_active(user=request.user) is None
            ):
                messages.success(
                    request, gettext("Your details are saved. Confirm it's you to search again with them.")
                )
                return redirect("ias:aal2")
            messages.success(request, gettext("Your details are saved."))
            return _next(request)
    return render(
        request,
        "ias/demographics.html",
        {"form": form, "updating": bool(link and link.patient_id), "step": 2},
    )


@health_data_required
@require_http_methods(["GET", "POST"])
def identity(request: AuthedRequest) -> HttpResponse:
    if selectors.identity_verified(user=request.user):
        return _next(request)
    latest = selectors.identity_latest(user=request.user)
    if request.method == "POST":
        try:
            verification = identity_session_start(user=request.user)
        except (NetworkRefused, NetworkUnavailable) as exc:
            messages.error(request, gettext(str(exc)))
        except JourneyError as exc:
            return _to_step(request, exc)
        else:
            if verification.status == IdentityVerification.Status.VERIFIED:
                return _next(request)
            return HttpResponseRedirect(verification.session_url)
    return render(request, "ias/identity.html", {"latest": latest, "step": 3, **_identity_attempts(request)})


def _identity_attempts(request: HttpRequest) -> dict:
    failures = selectors.identity_failures(user=request.user)
    return {
        "attempts_left": max(0, IDENTITY_MAX_ATTEMPTS - failures),
        "attempts_used_up": failures >= IDENTITY_MAX_ATTEMPTS,
        "support_email": settings.SUPPORT_EMAIL,
    }


@health_data_required
@require_GET
def identity_return(request: AuthedRequest) -> HttpResponse:
    """Where the network's identity service sends the browser back; the result comes by webhook."""
    return redirect("ias:identity_wait")


def _identity_nudge(verification: IdentityVerification) -> None:
    """Ask a worker to poll when the webhook is late (at most every 20 seconds per check)."""
    from ias.tasks import identity_poll

    now = timezone.now()
    quiet = timedelta(seconds=float(settings.IAS_IDENTITY_NUDGE_SECONDS))
    if verification.created_at > now - quiet:
        return
    updated = (
        IdentityVerification.objects.filter(pk=verification.pk, status=IdentityVerification.Status.PENDING)
        .exclude(last_polled_at__gt=now - quiet)
        .update(last_polled_at=now)
    )
    if updated:
        enqueue_after_commit(identity_poll, verification_id=verification.pk)


@health_data_required
@require_GET
def identity_wait(request: AuthedRequest) -> HttpResponse:
    verification = selectors.identity_latest(user=request.user)
    if verification is None:
        return redirect("ias:identity")
    if verification.status == IdentityVerification.Status.VERIFIED:
        messages.success(request, gettext("Your identity is verified."))
        return _next(request)
    if verification.status == IdentityVerification.Status.PENDING:
        _identity_nudge(verification)
    return render(
        request,
        "ias/identity_wait.html",
        {"verification": verification, "step": 3, **_identity_attempts(request)},
    )


@health_data_required(touch=False)
@require_GET
def identity_status(request: AuthedRequest) -> JsonResponse:
    verification = selectors.identity_latest(user=request.user)
    if verification is None:
        return JsonResponse({"status": "none", "next": selectors.journey_next_url(user=request.user)})
    if verification.status == IdentityVerification.Status.PENDING:
        _identity_nudge(verification)
    return JsonResponse(
        {
            "status": verification.status,
            "label": verification.get_status_display(),
            "next": selectors.journey_next_url(user=request.user),
        }
    )


@health_data_required
@require_http_methods(["GET", "POST"])
def aal2(request: AuthedRequest) -> HttpResponse:
    if not selectors.identity_verified(user=request.user):
        return _next(request)
    if request.method == "POST":
        try:
            challenge = aal2_challenge_start(user=request.user)
        except (NetworkRefused, NetworkUnavailable) as exc:
            messages.error(request, gettext(str(exc)))
        except JourneyError as exc:
            return _to_step(request, exc)
        else:
            return HttpResponseRedirect(challenge.challenge_url)
    return render(
        request,
        "ias/aal2.html",
        {"returning": selectors.query_latest(user=request.user) is not None, "step": 4},
    )


@health_data_required
@require_GET
def aal2_return(request: AuthedRequest, state: str) -> HttpResponse:
    try:
        aal2_challenge_complete(
            user=request.user,
            state=state,
            aal2_session_id=request.GET.get("aal2SessionId", ""),
            status=request.GET.get("status", ""),
            challenge_id=request.GET.get("challengeId", ""),
        )
    except (Aal2Mismatch, Aal2Refused) as exc:
        messages.error(request, gettext(str(exc)))
        return redirect("ias:aal2")
    retry = request.session.pop(RETRY_SESSION_KEY, None)
    if isinstance(retry, list) and retry:
        choice = SourceChoice(**{name: name in retry for name in ("hie", "pharmacy", "lab")})
        try:
            query = queries.network_query_start(user=request.user, sources=choice)
        except Aal2Refused as exc:
            messages.error(request, gettext(str(exc)))
            return redirect("ias:aal2")
        except (QueryRefused, NetworkUnavailable) as exc:
            messages.error(request, gettext(str(exc)))
            return redirect("ias:sources")
        except JourneyError as exc:
            return _to_step(request, exc)
        return redirect("ias:progress", public_id=query.public_id)
    return redirect("ias:sources")


RETRY_SESSION_KEY = "ias_retry_sources"


@health_data_required
@require_POST
def source_retry(request: HttpRequest, public_id) -> HttpResponse:
    """Ask again only the sources that failed in this search: a new security check, then a search of those."""
    query = selectors.query_for_user(user=request.user, public_id=public_id)
    chosen = request.POST.get("source", "")
    failed = [s.source_type for s in query.sources.all() if selectors.source_retryable(source=s)]
    names = [n for n in failed if n in ("hie", "pharmacy", "lab") and (chosen in ("", "all") or n == chosen)]
    if not names:
        messages.info(request, gettext("There is nothing to try again in this search."))
        return redirect("ias:progress", public_id=query.public_id)
    request.session[RETRY_SESSION_KEY] = names
    messages.info(request, gettext("To ask again, the network needs a fresh security check first."))
    return redirect("ias:aal2")


@health_data_required
@require_http_methods(["GET", "POST"])
def sources(request: AuthedRequest) -> HttpResponse:
    active = selectors.query_active(user=request.user)
    if active is not None:
        return redirect("ias:progress", public_id=active.public_id)
    if selectors.aal2_fresh(user=request.user) is None:
        if selectors.identity_verified(user=request.user) and consent_current(user=request.user):
            messages.info(request, gettext("Before each search, the network asks you to confirm it's you."))
            return redirect("ias:aal2")
        return _next(request)
    form = SourcesForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        choice = SourceChoice(**{k: bool(form.cleaned_data[k]) for k in ("hie", "pharmacy", "lab")})
        try:
            query = queries.network_query_start(user=request.user, sources=choice)
        except Aal2Refused as exc:
            messages.error(request, gettext(str(exc)))
            return redirect("ias:aal2")
        except (QueryRefused, NetworkUnavailable) as exc:
            form.add_error(None, gettext(str(exc)))
        except JourneyError as exc:
            return _to_step(request, exc)
        else:
            return redirect("ias:progress", public_id=query.public_id)
    return render(request, "ias/sources.html", {"form": form, "networks": selectors.networks_asked(), "step": 5})


@health_data_required
@require_GET
def progress(request: AuthedRequest, public_id) -> HttpResponse:
    query = selectors.query_for_user(user=request.user, public_id=public_id)
    latest = selectors.query_latest(user=request.user)
    return render(
        request,
        "ias/progress.html",
        {
            "query": query,
            "progress": selectors.progress_for(query=query),
            "is_latest": latest is not None and latest.pk == query.pk,
            "history": selectors.queries_for_user(user=request.user)[:10],
            "step": 6,
        },
    )


@health_data_required(touch=False)
@require_GET
def progress_status(request: AuthedRequest, public_id) -> JsonResponse:
    query = selectors.query_for_user(user=request.user, public_id=public_id)
    return JsonResponse(selectors.progress_for(query=query))


def webhook_body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is over the size limit (declared or actual)."""
    cap = webhooks.max_body_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return None
    raw = request.read(cap + 1)
    return None if len(raw) > cap else raw


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    """The network's door: verify, store once, enqueue after commit, answer. Nothing else."""
    raw = webhook_body(request)
    if raw is None:
        return JsonResponse({"error": "body too large"}, status=413)
    if not webhooks.signature_valid(raw=raw, header=request.META.get("HTTP_X_METRIPORT_SIGNATURE", "")):
        log.warning("webhook rejected: bad signature")
        return JsonResponse({"error": "invalid signature"}, status=401)
    try:
        envelope = webhooks.envelope_read(raw)
    except webhooks.MalformedWebhook as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if envelope.event_type == "ping":
        if envelope.message_id:
            webhooks.event_store(raw=raw, envelope=envelope)
        return JsonResponse({"pong": envelope.ping})
    _event, created = webhooks.event_store(raw=raw, envelope=envelope)
    return JsonResponse({"status": "stored" if created else "duplicate"})


@csrf_exempt
@require_POST
def webhook_particle(request: HttpRequest) -> JsonResponse:
    """Particle's door: a signed CloudEvent, stored once per id with network "particle", then 200."""
    raw = webhook_body(request)
    if raw is None:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        event = particle_webhook.receive(
            raw=raw,
            content_type=request.META.get("CONTENT_TYPE", ""),
            signature=request.headers.get(particle_webhook.SIGNATURE_HEADER, ""),
        )
    except particle_webhook.WebhookRefused as exc:
        log.warning("particle webhook refused: %s", exc.reason)
        return JsonResponse({"error": exc.reason}, status=exc.status)
    _event, created = webhooks.event_store(raw=raw, envelope=webhooks.particle_envelope(event))
    return JsonResponse({"status": "stored" if created else "duplicate"})
