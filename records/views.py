"""The record pages. Every view is behind the health-data gate, scoped to the signed-in person, and
declares its access-log line on the gate (`logs=`, `target=`), which writes it. Search words never go
into URLs: they are posted and kept in the session."""

from __future__ import annotations

import base64
import binascii
import os
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.http import require_GET, require_http_methods

from accounts.decorators import health_data_required
from accounts.http import AuthedRequest
from accounts.models import User
from accounts.selectors import access_log_for
from records import (
    ccda,
    charts,
    documents,
    download,
    explanations,
    exports,
    fhir,
    medlineplus,
    page_language,
    selectors,
    terminology,
)
from records.models import Resource

SEARCH_SESSION_KEY = "records_search"


SHOWN_RESOURCE = "records_shown_resource"


def _shown(request: HttpRequest, resource: Resource) -> None:
    """Keep the resource a view read for its access-log line, which would otherwise read it again."""
    setattr(request, SHOWN_RESOURCE, resource)


def resource_target(request: AuthedRequest, kwargs: dict) -> str:
    """The access-log target of a view of one resource (another person's is a 404 before any log)."""
    shown = getattr(request, SHOWN_RESOURCE, None)
    if not isinstance(shown, Resource) or shown.pk != int(kwargs["pk"]) or shown.user_id != request.user.pk:
        shown = selectors.resource_get(user=request.user, pk=kwargs["pk"])
    return f"resource:{shown.logged_reference}"


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100000 else 1


source_token = selectors.organization_token


@require_GET
@health_data_required(logs="records:summary")
@page_language.fixed()
def summary(request: AuthedRequest) -> HttpResponse:
    data = selectors.summary_for(user=request.user)
    return render(
        request,
        "records/summary.html",
        {
            "s": data,
            "vitals": selectors.latest_vitals(user=request.user),
            "categories": _category_nav(data.counts),
            "nav": "summary",
        },
    )


def _category_nav(counts: dict[str, int]) -> list[dict]:
    return [
        {"slug": slug, "label": gettext(label), "count": counts.get(slug, 0)}
        for slug, label in fhir.CATEGORY_LABELS.items()
    ]


@require_http_methods(["GET", "POST"])
@health_data_required(logs="records:{category}")
@page_language.fixed()
def category(request: AuthedRequest, category: str) -> HttpResponse:
    if category not in fhir.CATEGORY_LABELS:
        raise Http404
    searches = request.session.get(SEARCH_SESSION_KEY, {})
    if request.method == "POST":
        words = "" if "clear" in request.POST else request.POST.get("q", "").strip()[:100]
        searches[category] = words
        request.session[SEARCH_SESSION_KEY] = searches
        return redirect(reverse("records:category", args=[category]) + _keep_query(request))
    q = searches.get(category, "")
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "date")
    flag = request.GET.get("flag", "")
    token = request.GET.get("source", "")
    if category == "medications":
        # Medications are listed one line per drug, reconciled, never as a page of single rows.
        listing = None
        medications = selectors.medications_reconciled(
            user=request.user, networks=selectors.record_networks(user=request.user)
        )
    else:
        listing = selectors.category_list(
            user=request.user,
            category=category,
            q=q,
            status=status,
            source_token=token,
            flag=flag,
            sort=sort,
            page=_page_number(request),
        )
        medications = None
    if medications is not None and q:
        words = q.lower()
        medications.current = [g for g in medications.current if _medication_matches(g, words)]
        medications.past = [g for g in medications.past if _medication_matches(g, words)]
    return render(
        request,
        "records/category.html",
        {
            "category": category,
            "label": gettext(fhir.CATEGORY_LABELS[category]),
            "listing": listing,
            "medications": medications,
            "lab_results": listing.lab_results if listing else 0,
            "q": q,
            "status": status,
            "status_choices": [
                (value, gettext(STATUS_CHOICE_WORDS[value]) if value in STATUS_CHOICE_WORDS else value.capitalize())
                for value in selectors.STATUS_FILTERS.get(category, {})
            ],
            "sort": sort,
            "flag": flag,
            "source": token,
            "source_choices": [{"token": source_token(n), "name": n} for n in listing.sources] if listing else [],
            "query_base": _query_without_page(request),
            "nav": category,
            "categories": _category_nav({}),
        },
    )


STATUS_CHOICE_WORDS = {
    "not-given": gettext_noop("Status not given"),
    "active": gettext_noop("Active"),
    "resolved": gettext_noop("Resolved"),
    "past": gettext_noop("Past"),
    "completed": gettext_noop("Completed"),
    "finished": gettext_noop("Finished"),
}


def _medication_matches(group: selectors.MedicationGroup, words: str) -> bool:
    return any(words in item.display.name.lower() for item in group.items) or words in group.name.lower()


def _keep_query(request: HttpRequest) -> str:
    keep = {k: request.GET[k] for k in request.GET if k in ("status", "sort", "flag", "source")}
    return "?" + "&".join(f"{k}={v}" for k, v in keep.items() if re.fullmatch(r"[\w-]{1,40}", v)) if keep else ""


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    encoded = params.urlencode()
    return f"{encoded}&" if encoded else ""


@require_GET
@health_data_required(logs="records:explain", target=resource_target)
def explain(request: AuthedRequest, pk: int) -> HttpResponse:
    """'What is this?' for one item: MedlinePlus's plain-language topics for its code."""
    resource = selectors.resource_get(user=request.user, pk=pk)
    code = explanations.explainable_code_for(resource)
    language = (translation.get_language() or "en")[:2]
    result = (
        explanations.explanation_get(system=code[0], code=code[1], language=language)
        if code
        else explanations.Result(explanations.STATE_NONE)
    )
    topics = [
        {"title": t.title, "url": t.url, "summary": mark_safe(medlineplus.summary_clean(t.summary_html))}  # noqa: S308 - sanitised by nh3 just above
        for t in result.topics
    ]
    return render(
        request,
        "records/explain.html",
        {
            "r": resource,
            "name": terminology.own_name_in_language(
                resource.code_system, resource.code, fhir.resource_name(resource.raw) or resource.display
            ),
            "state": result.state,
            "topics": topics,
            "medlineplus_home": "https://medlineplus.gov/spanish/" if language == "es" else "https://medlineplus.gov/",
            "nav": resource.category,
            "categories": _category_nav({}),
        },
    )


@require_GET
@health_data_required(logs="records:item", target=resource_target)
@page_language.fixed()
def item(request: AuthedRequest, pk: int) -> HttpResponse:
    detail = selectors.resource_detail(user=request.user, pk=pk)
    resource = detail.item.resource
    _shown(request, resource)
    return render(
        request,
        "records/item.html",
        {
            "d": detail,
            "r": resource,
            "label": gettext(fhir.CATEGORY_LABELS.get(resource.category, gettext_noop("Other items"))),
            "nav": resource.category,
            "explainable": explanations.explanations_enabled()
            and explanations.explainable_code_for(resource) is not None,
        },
    )


@require_GET
@health_data_required(logs="records:trend", target=resource_target)
@page_language.fixed()
def trend(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        data = selectors.trend_for(user=request.user, pk=pk)
    except Resource.DoesNotExist as exc:
        raise Http404 from exc
    _shown(request, data.anchor)
    chart = charts.trend_chart(data.points, data.band, series=data.series)
    return render(
        request,
        "records/trend.html",
        {
            "t": data,
            "chart": chart,
            "rows": data.rows,
            "nav": data.anchor.category,
        },
    )


@require_GET
@health_data_required(logs="records:timeline")
@page_language.fixed()
def timeline(request: AuthedRequest) -> HttpResponse:
    page, visits = selectors.timeline_for(user=request.user, page=_page_number(request))
    return render(request, "records/timeline.html", {"page": page, "visits": visits, "nav": "timeline"})


@require_GET
@health_data_required(logs="records:access-history")
def access_history(request: AuthedRequest) -> HttpResponse:
    page = Paginator(access_log_for(subject=request.user), 50).get_page(_page_number(request))
    return render(request, "records/access_history.html", {"page": page, "nav": "access"})


@require_GET
@health_data_required(logs="records:downloads")
def downloads(request: AuthedRequest) -> HttpResponse:
    return render(
        request, "records/downloads.html", {"nav": "downloads", "last": selectors.snapshot_latest(user=request.user)}
    )


@require_GET
@health_data_required(logs="records:download", target="bundle.json")
def download_bundle(request: AuthedRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exports.bundle_stream(user_id=request.user.pk), content_type="application/fhir+json"
    )
    response["Content-Disposition"] = 'attachment; filename="homeport-record.json"'
    return response


@require_GET
@health_data_required(logs="records:download", target="ndjson.zip")
def download_ndjson(request: AuthedRequest) -> HttpResponse:
    handle = exports.ndjson_zip(user_id=request.user.pk)
    response = HttpResponse(handle.read(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="homeport-record-ndjson.zip"'
    return response


@require_GET
@health_data_required(logs="records:print")
@page_language.fixed()
def print_summary(request: AuthedRequest) -> HttpResponse:
    data = selectors.summary_for(user=request.user)
    return render(request, "records/print.html", {"s": data})


@require_GET
@health_data_required(logs="records:download", target="summary.pdf")
@page_language.fixed()
def summary_pdf(request: AuthedRequest) -> HttpResponse:
    data = selectors.summary_for(user=request.user)
    person = import_string(settings.RECORDS_PERSON_DETAILS_PROVIDER)(user_id=request.user.pk)
    pdf = exports.summary_pdf(
        summary=data,
        person_name=person["name"] or request.user.full_name,
        birth_date=person["birth_date"],
        generated_at=timezone.localtime(timezone.now(), _zone_of(request.user)),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="homeport-summary.pdf"'
    return response


def _zone_of(user: User) -> ZoneInfo | None:
    """The person's chosen time zone, else the site's."""
    try:
        return ZoneInfo(user.time_zone) if user.time_zone else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


_SAFE_TYPES = {
    "application/pdf",
    "text/plain",
    "image/png",
    "image/jpeg",
    "application/xml",
    "text/xml",
    "application/json",
    "application/fhir+json",
}


def _content_type(attachment: dict) -> str:
    return str(attachment.get("contentType") or "").split(";")[0].strip().lower()


def _inline_body(attachment: dict) -> bytes | None:
    if not isinstance(attachment.get("data"), str):
        return None
    try:
        return base64.b64decode(attachment["data"], validate=False)
    except (binascii.Error, ValueError) as exc:
        raise Http404 from exc


def _network_link(request: HttpRequest, attachment: dict) -> str:
    """A short-lived link for a document held at the network ("" when there is none)."""
    provider_path = settings.RECORDS_DOCUMENT_URL_PROVIDER
    url = attachment.get("url") if isinstance(attachment.get("url"), str) else ""
    if not provider_path or not url:
        return ""
    link = import_string(provider_path)(
        user_id=request.user.pk, attachment_url=url, content_type=_content_type(attachment)
    )
    return link if isinstance(link, str) and link.startswith(("https://", "http://")) else ""


@require_GET
@health_data_required(logs="records:document", target=resource_target)
def document(request: AuthedRequest, pk: int, index: int) -> HttpResponse:
    """Hand out a document as a named file (PDFs open in the browser), else a link from the network."""
    resource, attachment = selectors.attachment_get(user=request.user, pk=pk, index=index)
    content_type = _content_type(attachment)
    body = _inline_body(attachment)
    if body is not None:
        response = HttpResponse(
            body, content_type=content_type if content_type in _SAFE_TYPES else "application/octet-stream"
        )
        file_name = documents.document_file_name(
            title=fhir.name_in_language(stored=resource.display, resource=resource.raw)
            or str(attachment.get("title") or ""),
            date_text=resource.clinical_date_text or "",
            content_type=content_type,
        )
        disposition = "inline" if content_type == "application/pdf" else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{file_name}"'
        return response
    try:
        link = _network_link(request, attachment)
    except Exception:  # the network is unavailable or refused: tell the person, keep the page
        messages.info(
            request, gettext("The network could not give us this document right now. Please try again later.")
        )
        return redirect("records:item", pk=resource.pk)
    if not link:
        messages.info(request, gettext("This document cannot be downloaded right now. Please try again later."))
        return redirect("records:item", pk=resource.pk)
    return redirect(link)


def _document_bytes(request: HttpRequest, attachment: dict) -> bytes | None:
    """The document's bytes: inline, else fetched through the network's short-lived link."""
    body = _inline_body(attachment)
    if body is not None:
        return body
    try:
        link = _network_link(request, attachment)
        if not link:
            return None
        fetched = download.bundle_download(url=link)
    except Exception:  # the network is unavailable or refused; the page says so
        return None
    try:
        with open(fetched.path, "rb") as handle:
            return handle.read(ccda.MAX_DOCUMENT_BYTES + 1)
    finally:
        os.unlink(fetched.path)


@require_GET
@health_data_required(logs="records:document_read", target=resource_target)
def document_read(request: AuthedRequest, pk: int, index: int) -> HttpResponse:
    """A C-CDA document as a readable page: its sections' titles and narrative, sanitised."""
    resource, attachment = selectors.attachment_get(user=request.user, pk=pk, index=index)
    if not documents.is_ccda(_content_type(attachment)):
        return redirect("records:document", pk=resource.pk, index=index)
    body = _document_bytes(request, attachment)
    document_read_result = None
    problem = ""
    if body is None:
        problem = gettext("We could not get this document from the network right now. Please try again later.")
    else:
        try:
            document_read_result = ccda.ccda_read(body)
        except ccda.CcdaUnreadable:
            problem = gettext("We could not read this document as a clinical summary. You can still download it.")
    return render(
        request,
        "records/document.html",
        {
            "r": resource,
            "name": fhir.name_in_language(stored=resource.display, resource=resource.raw),
            "index": index,
            "doc": document_read_result,
            "problem": problem,
            "nav": "documents",
        },
    )
