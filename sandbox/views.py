"""The sandbox's browser pages (hosted identity and AAL2) and its presigned file links."""

from __future__ import annotations

import html
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods

from sandbox import files, links, records, services, totp
from sandbox.generator import PERSONAS, minimal_pdf
from sandbox.models import Aal2Challenge, IdentitySession, Patient


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _message(request, *, title: str, text: str, status: int, back_url: str = ""):
    return render(request, "sandbox/message.html", {"title": title, "text": text, "back_url": back_url}, status=status)


@require_http_methods(["GET", "POST"])
def identity_page(request, session_id: str):
    """The stand-in IAL2 identity provider: simulated document and selfie steps, tester picks the outcome."""
    session = IdentitySession.objects.select_related("patient").filter(pk=session_id).first()
    if session is None:
        raise Http404("No such identity session")
    session = services.identity_session_expire_if_stale(session)
    if session.status != "pending":
        back = with_params(session.redirect_url, sessionId=session.id, status=session.outcome or "expired")
        return _message(
            request,
            title=gettext("This identity session has ended"),
            text=gettext("Identity sessions can be used once and expire. Start again from Homeport."),
            status=410,
            back_url=back,
        )
    patient = session.patient
    errors: dict[str, str] = {}
    outcome = "failed" if patient.persona == "idfail" else "verified"
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in ("verified", "failed", "abandoned"):
            errors["outcome"] = gettext("Choose an outcome.")
        if outcome == "verified":
            if request.POST.get("document") != "on":
                errors["document"] = gettext("Photograph your identity document first (simulated: tick the box).")
            if request.POST.get("selfie") != "on":
                errors["selfie"] = gettext("Take a selfie first (simulated: tick the box).")
        if not errors:
            session = services.identity_session_complete(session_id=session.id, outcome=outcome)
            status = session.outcome or "expired"
            return HttpResponseRedirect(with_params(session.redirect_url, sessionId=session.id, status=status))
    demo = patient.demographics or {}
    return render(
        request,
        "sandbox/identity.html",
        {
            "session": session,
            "demo": demo,
            "address": (demo.get("address") or [{}])[0],
            "errors": errors,
            "outcome": outcome,
            "persona": patient.persona,
            "persona_text": PERSONAS.get(patient.persona, ""),
        },
        status=400 if errors else 200,
    )


@require_http_methods(["GET", "POST"])
def aal2_page(request, challenge_id: str):
    """The stand-in multifactor challenge: a real TOTP check bound to the proofed identity."""
    challenge = Aal2Challenge.objects.select_related("identity__patient").filter(pk=challenge_id).first()
    if challenge is None:
        raise Http404("No such challenge")
    if challenge.status != "pending" or challenge.expires_at <= timezone.now():
        status = "expired" if challenge.status == "pending" else challenge.status
        return _message(
            request,
            title=gettext("This challenge has ended"),
            text=gettext("Multifactor challenges can be used once and expire. Start again from Homeport."),
            status=410,
            back_url=with_params(challenge.redirect_url, status=status),
        )
    error = ""
    if request.method == "POST":
        challenge, session = services.aal2_challenge_verify(
            challenge_id=challenge.id, code=request.POST.get("code", "")
        )
        if session is not None:
            return HttpResponseRedirect(
                with_params(challenge.redirect_url, aal2SessionId=session.id, status="verified")
            )
        if challenge.status == "failed":
            return HttpResponseRedirect(with_params(challenge.redirect_url, status="failed"))
        left = services.MAX_AAL2_FAILURES - challenge.failed_attempts
        error = ngettext(
            "That code is not right. %(left)d attempt left.", "That code is not right. %(left)d attempts left.", left
        ) % {"left": left}
    secret = challenge.identity.totp_secret
    now = time.time()
    return render(
        request,
        "sandbox/aal2.html",
        {
            "challenge": challenge,
            "error": error,
            "secret": secret,
            "uri": totp.provisioning_uri(secret, account=challenge.identity.id),
            "current_code": totp.code_at(secret, now),
            "seconds_left": int(totp.STEP - now % totp.STEP),
        },
        status=400 if error else 200,
    )


def _s3_error(code: str, message: str, *, status: int = 403) -> HttpResponse:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{html.escape(message)}</Message></Error>"
    )
    return HttpResponse(body, status=status, content_type="application/xml")


@require_http_methods(["GET"])
def file_download(request, token: str):
    """A presigned link: no API key, valid until its expiry, then 403 like S3. Under the `fail_event`
    fault the links of the chosen webhooks answer 500 (expired or not) until the fault is removed.
    A bundle link serves the bundle's stored file (`sandbox.files`), built once."""
    try:
        peeked = links.link_peek(token)
    except links.LinkInvalid:
        peeked = {}
    if peeked.get("e") and services.event_link_fails(patient_id=str(peeked.get("p", "")), event_type=peeked["e"]):
        return _s3_error("InternalError", "We encountered an internal error. Please try again.", status=500)
    try:
        payload = links.link_read(token)
    except links.LinkExpired:
        return _s3_error("AccessDenied", "Request has expired")
    except links.LinkInvalid:
        return _s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match")
    patient = Patient.objects.filter(pk=payload.get("p")).first()
    if patient is None:
        raise Http404("No such file")
    kind, fmt = payload.get("k"), payload.get("f", "json")
    if kind == "d":
        found = records.document_content(records.patient_bundle(patient), payload.get("d", ""))
        if found is None:
            raise Http404("No such file")
        data, content_type = found
        if payload.get("c") == "html":
            data = (
                (
                    f"<!DOCTYPE html><html><body><pre>{html.escape(data.decode('utf-8', 'replace'))}</pre>"
                    "</body></html>"
                ).encode()
                if content_type != "application/pdf"
                else data
            )
            content_type = "text/html" if content_type != "application/pdf" else content_type
        elif payload.get("c") == "pdf" and content_type != "application/pdf":
            data, content_type = minimal_pdf("Converted clinical document"), "application/pdf"
        return HttpResponse(data, content_type=content_type)
    if kind == "b" and fmt == "json":
        stored = files.bundle_file_store(patient=patient, sources=payload.get("s", []), partial=payload.get("h"))
        return files.bundle_file_response(stored, accept_encoding=request.headers.get("accept-encoding", ""))
    if kind == "b":
        bundle = records.bundle_after_sources(patient, payload.get("s", []), payload.get("h"))
    elif kind == "c":
        bundle = records.bundle_filtered(
            records.patient_bundle(patient),
            resources=payload.get("r") or [],
            date_from=payload.get("df", ""),
            date_to=payload.get("dt", ""),
        )
    else:
        raise Http404("No such file")
    if fmt == "gz":
        response = HttpResponse(records.to_gzip(bundle), content_type="application/gzip")
        response["Content-Disposition"] = 'attachment; filename="consolidated.json.gz"'
        return response
    if fmt == "html":
        return HttpResponse(records.to_html(bundle), content_type="text/html; charset=utf-8")
    if fmt == "pdf":
        return HttpResponse(records.to_pdf(bundle), content_type="application/pdf")
    return HttpResponse(records.to_json(bundle), content_type="application/json")
