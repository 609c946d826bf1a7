"""Reads of a person's record for the pages and exports; every query is scoped to one person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Count, Max, Q, QuerySet
from django.shortcuts import get_object_or_404

from records import fhir
from records.models import Resource, Snapshot

PAGE_SIZE = 25
ABNORMAL_FLAGS = ("H", "L", "HH", "LL", "A", "AA", "HU", "LU")
ACTIVE_CONDITION = ("active", "recurrence", "relapse")
CATEGORIES = tuple(fhir.CATEGORY_LABELS)
LIST_FIELDS = (
    "id",
    "resource_type",
    "resource_id",
    "raw",
    "category",
    "code_system",
    "code",
    "display",
    "status",
    "clinical_date",
    "clinical_date_text",
    "value_num",
    "value_unit",
    "flag",
    "source_org",
    "network_source",
    "encounter_ref",
    "parent_ref",
    "dedupe_key",
    "first_snapshot",
)


def resources_for(*, user) -> QuerySet[Resource]:
    """The person's current (not retired) resources."""
    return Resource.objects.filter(user=user, retired_at__isnull=True)


def resource_get(*, user, pk: int) -> Resource:
    """One resource of this person; anyone else's (or a retired one) is a 404."""
    return get_object_or_404(Resource, pk=pk, user=user, retired_at__isnull=True)


@dataclass
class Item:
    """A row as pages show it: the stored columns plus what the display helpers say."""

    resource: Resource
    display: fhir.Display
    sources: list[str] = field(default_factory=list)
    children: list[Item] = field(default_factory=list)
    is_new: bool = False

    @property
    def pk(self) -> int:
        return self.resource.pk

    @property
    def trendable(self) -> bool:
        return self.resource.value_num is not None and self.resource.category in ("labs", "vitals")


def to_item(resource: Resource) -> Item:
    display = fhir.describe(resource.raw)
    if resource.display:
        display.name = resource.display  # resolved at ingest (medicationReference and the like)
    if resource.flag and display.flag is None:
        code = resource.flag
        label, tone = fhir._FLAGS.get(code, ("", "info"))
        display.flag = fhir.Flag(code=code, label=label, tone=tone, computed=True)
    item = Item(resource=resource, display=display)
    if resource.source_org:
        item.sources.append(resource.source_org)
    return item


NETWORK_SOURCES = ("hie", "pharmacy", "lab")


def new_since_snapshot_id(*, user) -> int | None:
    """The first snapshot of the person's latest search: items first seen in it or after are "new".

    None when there is nothing to compare with (no search yet, or only one search so far)."""
    latest = (
        Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE, network_source__in=NETWORK_SOURCES)
        .exclude(request_id="")
        .only("id", "request_id")
        .order_by("-id")
        .first()
    )
    if latest is None:
        return None
    boundary = (
        Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE, request_id=latest.request_id)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    earlier = Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE, id__lt=boundary).exists()
    return boundary if earlier else None


def _mark_new(items: list[Item], boundary: int | None) -> list[Item]:
    if boundary is None:
        return items
    for item in [*items, *(child for i in items for child in i.children)]:
        first = item.resource.first_snapshot_id
        item.is_new = first is not None and first >= boundary
    return items


def _with_all_sources(user, items: list[Item]) -> list[Item]:
    """Fill `sources` with every organization that reported the same item (one query)."""
    keys = {i.resource.dedupe_key for i in items if i.resource.dedupe_key}
    if not keys:
        return items
    by_key: dict[str, list[str]] = {}
    rows = (
        resources_for(user=user).filter(dedupe_key__in=keys).values_list("dedupe_key", "source_org", "network_source")
    )
    for key, org, network in rows:
        label = org or fhir.network_source_words(network)
        if label and label not in by_key.setdefault(key, []):
            by_key[key].append(label)
    for item in items:
        item.sources = by_key.get(item.resource.dedupe_key, item.sources)
    return items


# ---------------------------------------------------------------- summary


@dataclass
class Summary:
    allergies: list[Item]
    conditions: list[Item]
    medications: list[Item]
    abnormal: list[Item]
    immunizations: list[Item]
    encounters: list[Item]
    new_items: list[Item]
    new_count: int
    counts: dict[str, int]
    last_snapshot: Snapshot | None


def _primary(user) -> QuerySet[Resource]:
    return resources_for(user=user).filter(is_primary=True).only(*LIST_FIELDS)


def _newest_abnormal(base: QuerySet[Resource], *, limit: int) -> list[Resource]:
    """The newest abnormal labs and vitals (undated first, as PostgreSQL orders them): one query, each
    category walking its own date index backwards instead of sorting every result of both."""
    flagged = base.filter(flag__in=ABNORMAL_FLAGS)
    if not connections[flagged.db].features.supports_slicing_ordering_in_compound:
        return list(flagged.filter(category__in=("labs", "vitals")).order_by("-clinical_date")[:limit])
    labs, vitals = (flagged.filter(category=c).order_by("-clinical_date")[:limit] for c in ("labs", "vitals"))
    rows = list(labs.union(vitals, all=True))
    rows.sort(
        key=lambda r: (r.clinical_date is None, r.clinical_date or datetime.min.replace(tzinfo=UTC)), reverse=True
    )
    return rows[:limit]


def summary_for(*, user) -> Summary:
    """What the summary page shows, in a fixed small number of queries."""
    base = _primary(user).exclude(status__in=("entered-in-error", "refuted"))
    allergies = [
        to_item(r)
        for r in base.filter(category="allergies")
        .exclude(status__in=("inactive", "resolved"))
        .order_by("-clinical_date")[:20]
    ]
    conditions = [
        to_item(r)
        for r in base.filter(category="conditions", status__in=ACTIVE_CONDITION).order_by("-clinical_date")[:20]
    ]
    medications = [
        to_item(r)
        for r in base.filter(category="medications", status__in=("active", "on-hold", "intended")).order_by(
            "-clinical_date"
        )[:20]
    ]
    abnormal = [to_item(r) for r in _newest_abnormal(base, limit=8)]
    immunizations = [to_item(r) for r in base.filter(category="immunizations").order_by("-clinical_date")[:8]]
    encounters = [to_item(r) for r in base.filter(category="encounters").order_by("-clinical_date")[:5]]
    counts = dict(resources_for(user=user).filter(is_primary=True).values_list("category").annotate(n=Count("id")))
    last = snapshot_latest(user=user)
    new_items: list[Item] = []
    new_count = 0
    boundary = new_since_snapshot_id(user=user)
    if boundary is not None:
        new_qs = base.filter(first_snapshot_id__gte=boundary).exclude(category="other")
        new_items = [to_item(r) for r in new_qs.order_by("-clinical_date")[:10]]
        new_count = len(new_items) if len(new_items) < 10 else new_qs.count()
    for group in (allergies, conditions, medications, abnormal, immunizations, encounters, new_items):
        _mark_new(group, boundary)
    return Summary(
        allergies, conditions, medications, abnormal, immunizations, encounters, new_items, new_count, counts, last
    )


# ---------------------------------------------------------------- category pages

SORTS = {
    "date": ("-clinical_date", "-id"),
    "oldest": ("clinical_date", "id"),
    "name": ("display", "-clinical_date"),
}

STATUS_FILTERS = {
    "conditions": {"active": ACTIVE_CONDITION, "resolved": ("resolved", "inactive", "remission")},
    "medications": {"active": ("active", "on-hold", "intended"), "past": ("completed", "stopped", "cancelled")},
    "allergies": {"active": ("active",), "resolved": ("inactive", "resolved")},
    "procedures": {"completed": ("completed",)},
    "encounters": {"finished": ("finished",)},
}


@dataclass
class Listing:
    page: Page
    items: list[Item]
    sources: list[str]
    total: int


class _CountedPaginator(Paginator):
    """A paginator told its count, which the listing computes in the same scan as its sources."""

    def __init__(self, object_list, per_page, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count


def category_list(
    *,
    user,
    category: str,
    q: str = "",
    status: str = "",
    source: str = "",
    flag: str = "",
    sort: str = "date",
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Listing:
    """A page of one category, one row per item (same items from several sources merged)."""
    cond = Q(is_primary=True)
    if category == "labs":
        cond &= Q(resource_type="DiagnosticReport") | Q(parent_ref="")
    if q:
        cond &= Q(display__icontains=q[:100])
    allowed = STATUS_FILTERS.get(category, {})
    if status in allowed:
        cond &= Q(status__in=allowed[status])
    if source:
        cond &= Q(source_org=source)
    if flag == "abnormal":
        cond &= Q(flag__in=ABNORMAL_FLAGS)
    in_category = resources_for(user=user).filter(category=category)
    # One pass over the category gives both the number of matching items and every source in it.
    groups = list(in_category.order_by().values_list("source_org").annotate(n=Count("id", filter=cond)))
    total = sum(n for _org, n in groups)
    sources = sorted([org for org, _n in groups if org][:50])
    qs = in_category.filter(cond).only(*LIST_FIELDS).order_by(*SORTS.get(sort, SORTS["date"]))
    paginator = _CountedPaginator(qs, per_page, count=total)
    page_obj = paginator.get_page(page)
    items = [to_item(r) for r in page_obj.object_list]
    _with_all_sources(user, items)
    if category == "labs":
        _attach_results(user, items)
    _mark_new(items, new_since_snapshot_id(user=user))
    return Listing(page=page_obj, items=items, sources=sources, total=total)


def _attach_results(user, items: list[Item]) -> None:
    """Nest results under their panel (DiagnosticReport.result, then Observation.hasMember), two levels."""
    parents = {i.resource.reference: i for i in items}
    if not parents:
        return
    children = list(
        resources_for(user=user).filter(parent_ref__in=list(parents)).only(*LIST_FIELDS).order_by("display")
    )
    nested = {}
    for child in children:
        item = to_item(child)
        parents[child.parent_ref].children.append(item)
        nested[child.reference] = item
    if nested:
        for child in (
            resources_for(user=user).filter(parent_ref__in=list(nested)).only(*LIST_FIELDS).order_by("display")[:500]
        ):
            if child.reference not in parents:
                nested[child.parent_ref].children.append(to_item(child))


# ---------------------------------------------------------------- detail, trend, timeline


@dataclass
class Detail:
    item: Item
    sources: list[fhir.Source]
    reported_by: list[Resource]
    children: list[Item]
    provenances: list[dict]
    ranges: list[fhir.ReferenceRange]
    narrative: str
    raw_json: str
    attachments: list[dict]
    encounter: Resource | None


def _reference_keys(value, found: set[str]) -> None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and "/" in ref and not ref.startswith("#"):
            found.add("/".join(ref.split("/_history/")[0].rstrip("/").split("/")[-2:]))
        for v in value.values():
            if isinstance(v, dict | list):
                _reference_keys(v, found)
    elif isinstance(value, list):
        for v in value[:200]:
            _reference_keys(v, found)


def _load_refs(user, keys: set[str]) -> dict[str, dict]:
    pairs = [k.split("/", 1) for k in keys if k.count("/") == 1]
    if not pairs:
        return {}
    cond = Q()
    for kind, rid in pairs[:200]:
        cond |= Q(resource_type=kind, resource_id=rid)
    return {
        r.reference: r.raw for r in Resource.objects.filter(cond, user=user).only("resource_type", "resource_id", "raw")
    }


def resource_detail(*, user, pk: int) -> Detail:
    resource = resource_get(user=user, pk=pk)
    raw = resource.raw if isinstance(resource.raw, dict) else {}
    keys: set[str] = set()
    _reference_keys(raw, keys)
    provenance_rows = list(
        resources_for(user=user).filter(resource_type="Provenance", parent_ref=resource.reference)[:20]
    )
    provenances = [p.raw for p in provenance_rows]
    for provenance in provenances:
        _reference_keys(provenance.get("agent"), keys)
    refs = _load_refs(user, keys)
    second: set[str] = set()
    for target in refs.values():
        _reference_keys({k: target.get(k) for k in ("serviceProvider", "organization", "practitioner")}, second)
    refs.update(_load_refs(user, second - set(refs)))

    def resolve(reference: str) -> dict | None:
        return refs.get("/".join(reference.split("/_history/")[0].rstrip("/").split("/")[-2:]))

    display = fhir.describe(raw, resolve=resolve)
    item = Item(resource=resource, display=display)
    sources = fhir.provenance_sources(
        raw, resolve=resolve, provenances=provenances, network_source=resource.network_source
    )
    reported_by = list(
        resources_for(user=user)
        .filter(dedupe_key=resource.dedupe_key)
        .order_by("id")
        .only("id", "source_org", "network_source", "clinical_date_text", "resource_type")[:20]
    )
    children: list[Item] = []
    if resource.resource_type in ("DiagnosticReport", "Observation"):
        children = [
            to_item(r)
            for r in resources_for(user=user)
            .filter(parent_ref=resource.reference)
            .only(*LIST_FIELDS)
            .order_by("display")[:200]
        ]
    elif resource.resource_type == "Encounter":
        children = [
            to_item(r)
            for r in resources_for(user=user)
            .filter(encounter_ref=resource.reference)
            .exclude(pk=resource.pk)
            .only(*LIST_FIELDS)
            .order_by("category", "display")[:200]
        ]
    encounter = None
    if resource.encounter_ref and resource.resource_type != "Encounter":
        encounter = (
            resources_for(user=user)
            .filter(resource_type="Encounter", resource_id=resource.encounter_ref.split("/", 1)[-1])
            .only("id", "display", "clinical_date_text")
            .first()
        )
    attachments = []
    if resource.resource_type in ("DocumentReference", "DiagnosticReport"):
        contents = (
            raw.get("content")
            if resource.resource_type == "DocumentReference"
            else [{"attachment": a} for a in raw.get("presentedForm") or [] if isinstance(a, dict)]
        )
        for index, content in enumerate(contents if isinstance(contents, list) else []):
            attachment = content.get("attachment") if isinstance(content, dict) else None
            if isinstance(attachment, dict):
                attachments.append(
                    {
                        "index": index,
                        "title": str(attachment.get("title") or "Document")[:200],
                        "content_type": str(attachment.get("contentType") or "")[:100],
                        "available": bool(attachment.get("url") or attachment.get("data")),
                    }
                )
    return Detail(
        item=item,
        sources=sources,
        reported_by=reported_by,
        children=children,
        provenances=provenances,
        ranges=fhir.reference_ranges(raw),
        narrative=fhir.narrative_text(raw),
        raw_json=orjson.dumps(raw, option=orjson.OPT_INDENT_2).decode(),
        attachments=attachments,
        encounter=encounter,
    )


@dataclass
class Trend:
    anchor: Resource
    name: str
    unit: str
    points: list[dict]
    band: fhir.ReferenceRange | None
    other_units: list[dict]


def trend_for(*, user, pk: int, limit: int = 500) -> Trend:
    """Every result with the same code and unit as this one, oldest first; other units listed apart."""
    anchor = resource_get(user=user, pk=pk)
    if anchor.value_num is None or not anchor.code:
        raise Resource.DoesNotExist
    same_code = resources_for(user=user).filter(
        resource_type=anchor.resource_type,
        code_system=anchor.code_system,
        code=anchor.code,
        value_num__isnull=False,
    )
    rows = list(
        same_code.filter(value_unit=anchor.value_unit, is_primary=True)
        .order_by("-clinical_date", "-id")
        .only("id", "raw", "clinical_date", "clinical_date_text", "value_num", "value_unit", "flag", "source_org")[
            :limit
        ]
    )
    rows.reverse()
    other_units = [
        {"unit": unit, "count": n, "pk": first}
        for unit, n, first in same_code.exclude(value_unit=anchor.value_unit)
        .values_list("value_unit")
        .annotate(n=Count("id"), first=Max("id"))
        .order_by("-n")[:10]
    ]
    points = []
    band_votes: dict[tuple, int] = {}
    band_by_key: dict[tuple, fhir.ReferenceRange] = {}
    unit = ""
    for row in rows:
        measure = fhir.observation_measure(row.raw)
        unit = unit or (measure.unit if measure else "")
        for candidate in fhir.reference_ranges(row.raw):
            if candidate.numeric and candidate.is_normal and candidate.unit_key in (row.value_unit, ""):
                key = (candidate.low, candidate.high)
                band_votes[key] = band_votes.get(key, 0) + 1
                band_by_key[key] = candidate
                break
        flag_code = row.flag if row.flag in ABNORMAL_FLAGS else ""
        points.append(
            {
                "pk": row.pk,
                "value": row.value_num,
                "when": row.clinical_date,
                "date_text": row.clinical_date_text,
                "value_text": fhir.observation_value_text(row.raw),
                "flag": flag_code,
                "flag_label": fhir._FLAGS.get(flag_code, ("", ""))[0],
                "source": row.source_org,
            }
        )
    band = band_by_key[max(band_votes, key=band_votes.get)] if band_votes else None
    return Trend(
        anchor=anchor,
        name=anchor.display or "Result",
        unit=unit or anchor.value_unit,
        points=points,
        band=band,
        other_units=other_units,
    )


@dataclass
class Visit:
    encounter: Item
    items: dict[str, list[Item]]


def timeline_for(*, user, page: int = 1, per_page: int = 15) -> tuple[Page, list[Visit]]:
    """Visits newest first, each with what happened in it (two queries per page)."""
    qs = _primary(user).filter(resource_type="Encounter").order_by("-clinical_date", "-id")
    page_obj = Paginator(qs, per_page).get_page(page)
    visits = {r.reference: Visit(encounter=to_item(r), items={}) for r in page_obj.object_list}
    if visits:
        for row in (
            _primary(user)
            .filter(encounter_ref__in=list(visits))
            .exclude(resource_type="Encounter")
            .exclude(resource_type="Provenance")
            .order_by("category", "display")[:1500]
        ):
            label = fhir.CATEGORY_LABELS.get(row.category, "Other")
            visits[row.encounter_ref].items.setdefault(label, []).append(to_item(row))
    return page_obj, list(visits.values())


# ---------------------------------------------------------------- exports


def record_iter_resources(*, user_id: int) -> Iterator[tuple[str, bytes]]:
    """(resourceType, JSON bytes) of every current resource, by type, streamed from the database."""
    qs = Resource.objects.filter(user_id=user_id, retired_at__isnull=True).order_by("resource_type", "id")
    for kind, raw in qs.values_list("resource_type", "raw").iterator(chunk_size=2000):
        yield kind, orjson.dumps(raw)


def record_export_bundle(*, user_id: int) -> dict:
    """The whole current record as a FHIR Bundle of type collection."""
    entries = [
        {"fullUrl": f"{kind}/{raw.get('id', '')}", "resource": raw}
        for kind, raw in Resource.objects.filter(user_id=user_id, retired_at__isnull=True)
        .order_by("resource_type", "id")
        .values_list("resource_type", "raw")
        .iterator(chunk_size=2000)
    ]
    return {"resourceType": "Bundle", "type": "collection", "total": len(entries), "entry": entries}


def snapshot_latest(*, user) -> Snapshot | None:
    return Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).order_by("-id").first()
