"""Sharing the record with SMART Health Links: the person's pages (behind the health gate, with a fresh
second factor to make one) and the public endpoints a clinician's browser or app calls."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import health_data_required
from accounts.http import client_ip
from accounts.models import User
from accounts.selectors import session_last_mfa_at
from accounts.services import access_log_record
from records import sharing, sharing_selectors
from records.models import Share

LIFETIMES = {
    "1h": ("One hour", timedelta(hours=1)),
    "1d": ("One day", timedelta(days=1)),
    "7d": ("One week", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
    "90d": ("90 days", timedelta(days=90)),
}
MANIFEST_MAX_BYTES = 16 * 1024


class ShareForm(forms.Form):
    label = forms.CharField(
        max_length=sharing.LABEL_MAX,
        label="Name this share",
        help_text="The clinician sees it. For example: “For Dr. Rivera, cardiology visit”.",
    )
    scope = forms.ChoiceField(
        choices=Share.SCOPE_CHOICES,
        widget=forms.RadioSelect,
        initial=Share.SCOPE_SUMMARY,
        label="What to share",
        help_text="The patient summary has your allergies, problems, medications, immunizations, recent results "
        "and vital signs. Documents from your providers are not included.",
    )
    categories = forms.MultipleChoiceField(
        choices=[(spec.slug, spec.title) for spec in sharing_selectors.SECTIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Parts to share",
        help_text="Only for “Chosen parts”: tick the parts the clinician needs.",
    )
    lifetime = forms.ChoiceField(
        choices=[(key, words) for key, (words, _) in LIFETIMES.items()], initial="7d", label="The link works for"
    )
    passcode = forms.CharField(
        required=False,
        max_length=64,
        min_length=4,
        label="Passcode",
        help_text="Tell it to the clinician yourself, not in the same message as the link.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


def _person(request: HttpRequest) -> User:
    """The signed-in person (the health gate has already turned everyone else away)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _second_factor_is_fresh(request: HttpRequest) -> bool:
    last = session_last_mfa_at(request=request)
    return last is not None and time.time() - last <= settings.RECORDS_SHARE_FRESH_MFA_SECONDS


def _ask_second_factor(request: HttpRequest) -> HttpResponse:
    messages.info(request, "Sharing your record needs a fresh check: confirm it's you with your second factor.")
    return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': reverse('share:new')})}")


def _qr_data_uri(text: str) -> str:
    """The QR as an SVG data URI (error correction M, as the specification recommends)."""
    return segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=4)


@require_http_methods(["GET", "POST"])
@health_data_required
def share_new(request: HttpRequest) -> HttpResponse:
    """Choose what to share; on success the link is shown once, in this response (the key is not kept)."""
    if not _second_factor_is_fresh(request):
        return _ask_second_factor(request)
    form = ShareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = sharing.share_create(
                user=_person(request),
                label=data["label"],
                scope=data["scope"],
                categories=data["categories"],
                lifetime=LIFETIMES[data["lifetime"]][1],
                passcode=data["passcode"],
            )
        except sharing.ShareError as exc:
            form.add_error(None, str(exc))
        else:
            access_log_record(
                request=request,
                subject=_person(request),
                action="records:share-created",
                target=f"share:{created.share.pk}",
            )
            return render(
                request,
                "records/share_result.html",
                {
                    "share": created.share,
                    "shlink": created.shlink,
                    "viewer_url": created.viewer_url,
                    "qr": _qr_data_uri(created.viewer_url),
                    "what": _what_words(created.share),
                    "nav": "share",
                },
            )
    return render(request, "records/share_new.html", {"form": form, "nav": "share"})


def _what_words(share: Share) -> str:
    if share.scope == Share.SCOPE_CATEGORIES:
        titles = [
            sharing_selectors.SECTIONS_BY_SLUG[s].title
            for s in share.categories
            if s in sharing_selectors.SECTIONS_BY_SLUG
        ]
        return ", ".join(titles)
    return share.get_scope_display()


@require_GET
@health_data_required
def share_list(request: HttpRequest) -> HttpResponse:
    shares = list(sharing_selectors.shares_for(user=_person(request)))
    rows = [{"share": share, "what": _what_words(share), "openings": list(share.openings.all())} for share in shares]
    return render(request, "records/share_list.html", {"rows": rows, "nav": "share"})


@require_POST
@health_data_required
def share_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    share = sharing_selectors.share_get(user=person, pk=pk)
    sharing.share_revoke(user=person, share_id=share.pk)
    messages.success(request, f"The share “{share.label}” no longer works. Its files are deleted.")
    return redirect("share:list")


# ---------------------------------------------------------------- public: the clinician's side


@require_GET
def viewer(request: HttpRequest) -> HttpResponse:
    """The viewer page; the link (and its key) stays in the URL fragment, which browsers never send."""
    response = render(request, "records/share_viewer.html", {})
    response["Cache-Control"] = "no-store"
    return response


def _cors(response: HttpResponse) -> HttpResponse:
    """Any receiving application may call the manifest, from any origin, without credentials."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def manifest(request: HttpRequest, manifest_id: str) -> HttpResponse:
    """The SMART Health Links manifest request: POST JSON with `recipient` and, if flagged, `passcode`."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if len(request.body) > MANIFEST_MAX_BYTES:
        return _cors(JsonResponse({"error": "The request is too large."}, status=413))
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _cors(JsonResponse({"error": "The body must be a JSON object."}, status=400))
    raw_recipient, raw_passcode = body.get("recipient"), body.get("passcode")
    recipient = raw_recipient if isinstance(raw_recipient, str) else ""
    passcode = raw_passcode if isinstance(raw_passcode, str) else None
    length_max = body.get("embeddedLengthMax")
    if not isinstance(length_max, int) or isinstance(length_max, bool) or length_max < 0:
        length_max = None
    answer = sharing.share_manifest_open(
        manifest_id=manifest_id,
        recipient=recipient,
        passcode=passcode,
        embedded_length_max=length_max,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return _cors(JsonResponse(answer.body, status=answer.status))


@require_http_methods(["GET", "OPTIONS"])
def share_file(request: HttpRequest, token: str) -> HttpResponse:
    """A manifest's short-lived `location` for a file too large to embed: the JWE itself."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    jwe_text = sharing.share_file_read(token=token)
    if jwe_text is None:
        raise Http404
    return _cors(HttpResponse(jwe_text, content_type="application/jose"))
