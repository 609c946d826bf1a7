"""Reads of a person's record for the pages and exports; every query is scoped to one person."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext, gettext_noop

from accounts.models import User
from records import documents, fhir, terminology
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


def resources_for(*, user: User) -> QuerySet[Resource]:
    """The person's current (not retired) resources."""
    return Resource.objects.filter(user=user, retired_at__isnull=True)


def organization_token(name: str) -> str:
    """An opaque filter token for an organization (names stay out of URLs)."""
    return hashlib.blake2b(name.encode(), digest_size=6).hexdigest()


def attachments_of(resource: Resource) -> list[tuple[int, dict]]:
    """A document's or report's attachments with their positions: the one reading of `content` and
    `presentedForm` that both the item page and the document download use."""
    if resource.resource_type not in ("DocumentReference", "DiagnosticReport"):
        return []
    raw = resource.raw if isinstance(resource.raw, dict) else {}
    key = "content" if resource.resource_type == "DocumentReference" else "presentedForm"
    found = raw.get(key)
    found_items: list = found if isinstance(found, list) else []
    out = []
    for index, entry in enumerate(found_items):
        attachment = entry.get("attachment") if key == "content" and isinstance(entry, dict) else entry
        if isinstance(attachment, dict):
            out.append((index, attachment))
    return out


def attachment_get(*, user: User, pk: int, index: int) -> tuple[Resource, dict]:
    """One attachment of one of this person's resources; anything else is a 404."""
    resource = resource_get(user=user, pk=pk)
    attachment = dict(attachments_of(resource)).get(index)
    if attachment is None:
        raise Http404
    return resource, attachment


def resource_get(*, user: User, pk: int) -> Resource:
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
        return is_trendable(self.resource)


def to_item(resource: Resource, *, units: str = "") -> Item:
    """`units` ("us" or "metric") converts vitals with known factors; "" shows them as given."""
    display = fhir.describe(resource.raw)
    if resource.display:  # resolved at ingest (medicationReference and the like)
        display.name = fhir.name_in_language(stored=resource.display, resource=resource.raw, current=display.name)
    display.name = terminology.own_name_in_language(resource.code_system, resource.code, display.name)
    if units and resource.category == "vitals" and resource.value_num is not None:
        display.value = fhir.vital_value_text(resource.raw, units=units)
    if resource.flag and display.flag is None:
        code = resource.flag
        label, tone = fhir.FLAG_LABELS.get(code, ("", "info"))
        label = fhir.words_in_language(label)
        display.flag = fhir.Flag(code=code, label=label, tone=tone, computed=True)
    item = Item(resource=resource, display=display)
    if resource.source_org:
        item.sources.append(resource.source_org)
    return item


NETWORK_SOURCES = ("hie", "pharmacy", "lab")


def new_since_snapshot_id(*, user: User) -> int | None:
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


def _with_all_sources(user: User, items: list[Item]) -> list[Item]:
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
    medications: list[MedicationGroup]
    abnormal: list[Item]
    immunizations: list[Item]
    encounters: list[Item]
    new_items: list[Item]
    new_count: int
    counts: dict[str, int]
    last_snapshot: Snapshot | None
    conditions_without_status: list[Item] = field(default_factory=list)


def _primary(user: User) -> QuerySet[Resource]:
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


def summary_for(*, user: User) -> Summary:
    """What the summary page shows, in a fixed small number of queries."""
    base = _primary(user).exclude(status__in=("entered-in-error", "refuted"))
    allergies = [
        to_item(r, units=user.measurement_units)
        for r in base.filter(category="allergies")
        .exclude(status__in=("inactive", "resolved"))
        .order_by("-clinical_date")[:20]
    ]
    conditions = [
        to_item(r, units=user.measurement_units)
        for r in base.filter(category="conditions", status__in=ACTIVE_CONDITION).order_by("-clinical_date")[:20]
    ]
    conditions_without_status = [
        to_item(r, units=user.measurement_units)
        for r in base.filter(category="conditions", status="").order_by("-clinical_date")[:20]
    ]
    reconciled = medications_reconciled(user=user)
    medications = reconciled.current[:20]
    abnormal = [to_item(r, units=user.measurement_units) for r in _newest_abnormal(base, limit=8)]
    immunizations = [
        to_item(r, units=user.measurement_units)
        for r in base.filter(category="immunizations").order_by("-clinical_date")[:8]
    ]
    encounters = [
        to_item(r, units=user.measurement_units)
        for r in base.filter(category="encounters").order_by("-clinical_date")[:5]
    ]
    counts = category_counts(user=user, medications=reconciled)
    last = snapshot_latest(user=user)
    new_items: list[Item] = []
    new_count = 0
    boundary = new_since_snapshot_id(user=user)
    if boundary is not None:
        new_qs = base.filter(first_snapshot_id__gte=boundary).exclude(category="other")
        new_items = [to_item(r, units=user.measurement_units) for r in new_qs.order_by("-clinical_date")[:10]]
        new_count = len(new_items) if len(new_items) < 10 else new_qs.count()
    for group in (allergies, conditions, abnormal, immunizations, encounters, new_items):
        _mark_new(group, boundary)
    return Summary(
        allergies,
        conditions,
        medications,
        abnormal,
        immunizations,
        encounters,
        new_items,
        new_count,
        counts,
        last,
        conditions_without_status,
    )


def _listed(category: str) -> Q:
    """The rows a category page lists: results inside a lab panel are shown under their panel."""
    cond = Q(is_primary=True)
    if category == "labs":
        cond &= Q(resource_type="DiagnosticReport") | Q(parent_ref="")
    return cond


def category_counts(*, user: User, medications: Medications | None = None) -> dict[str, int]:
    """Items per category, counted as the category pages list them (so the summary and pages agree):
    lab panels once, medications once per drug after reconciling."""
    rows = resources_for(user=user).filter(is_primary=True)
    counts = dict(rows.exclude(category="labs").values_list("category").annotate(n=Count("id")))
    counts["labs"] = rows.filter(_listed("labs"), category="labs").count()
    medications = medications or medications_reconciled(user=user)
    counts["medications"] = len(medications.current) + len(medications.past)
    return counts


def lab_result_count(*, user: User) -> int:
    """Every single lab result, inside panels or not (the lab page says both figures)."""
    return resources_for(user=user).filter(is_primary=True, category="labs", resource_type="Observation").count()


# ---------------------------------------------------------------- medications

RECENT_FILL = timedelta(days=183)
_CURRENT_MED_STATUSES = ("active", "on-hold", "intended")
_PAST_MED_STATUSES = ("completed", "stopped", "cancelled", "not-taken")
_MED_RECORD_TYPES = ("MedicationRequest", "MedicationStatement")


@dataclass
class MedicationGroup:
    """One drug, with every request, statement and dispense that mentions it."""

    name: str
    current: bool
    latest: Item
    items: list[Item]
    last_filled: fhir.FhirDate | None
    status: str

    @property
    def pk(self) -> int:
        return self.latest.pk

    @property
    def instructions(self) -> str:
        return next((i.display.value for i in self.items if i.display.value), "")

    @property
    def display(self) -> fhir.Display:
        """What the printed summary shows, as for any item."""
        return fhir.Display(name=self.name, date=self.latest.display.date, status=self.status, value=self.instructions)

    @property
    def sources(self) -> list[str]:
        return sorted({source for item in self.items for source in item.sources})


@dataclass
class Medications:
    current: list[MedicationGroup]
    past: list[MedicationGroup]


def _medication_key(row: Resource) -> str:
    if row.code and terminology.canonical_system(row.code_system) == terminology.RXNORM:
        return f"rxnorm|{row.code}"
    words = re.sub(r"[^a-z0-9.]+", " ", (row.display or "").lower()).split()
    return "name|" + " ".join(words) if words else f"self|{row.reference}"


def _sort_moment(item: Item) -> datetime:
    return item.display.date.sort_key if item.display.date else datetime.min.replace(tzinfo=UTC)


def medications_reconciled(*, user: User, now: datetime | None = None, limit: int = 5000) -> Medications:
    """Requests, statements and dispenses of the same drug (same RxNorm code, else the same name)
    merged into one line each, split into current and past.

    The rule, newest evidence first: a drug is current when the newest request or statement that
    gives a status says active, on hold or intended, or when it was dispensed in the last six
    months; a newer stopped or completed request or statement makes it past. A missing status
    decides nothing and never hides a drug: what is not current is listed under past.
    """
    now = now or datetime.now(UTC)
    rows = (
        resources_for(user=user)
        .filter(category="medications")
        .exclude(status="entered-in-error")
        .only(*LIST_FIELDS)
        .order_by("id")[:limit]
    )
    groups: dict[str, list[Item]] = {}
    for row in rows:
        groups.setdefault(_medication_key(row), []).append(to_item(row))
    current: list[MedicationGroup] = []
    past: list[MedicationGroup] = []
    for items in groups.values():
        items.sort(key=_sort_moment, reverse=True)
        dispenses = [i for i in items if i.resource.resource_type == "MedicationDispense" and i.display.date]
        last_filled = dispenses[0].display.date if dispenses else None
        verdict, status = None, ""
        for item in items:
            kind, code = item.resource.resource_type, item.resource.status
            if kind in _MED_RECORD_TYPES and code in _CURRENT_MED_STATUSES + _PAST_MED_STATUSES:
                verdict, status = code in _CURRENT_MED_STATUSES, item.display.status
            elif kind == "MedicationDispense" and item.display.date and now - item.display.date.sort_key < RECENT_FILL:
                verdict, status = True, gettext("Filled recently")
            if verdict is not None:
                break
        named = [i for i in items if i.resource.resource_type in _MED_RECORD_TYPES and i.resource.display] or items
        group = MedicationGroup(
            name=named[0].display.name,
            current=bool(verdict),
            latest=items[0],
            items=items,
            last_filled=last_filled,
            status=status or fhir.STATUS_NOT_GIVEN,
        )
        (current if group.current else past).append(group)
    for bucket in (current, past):
        bucket.sort(key=lambda g: (-_sort_moment(g.latest).timestamp(), g.name.lower()))
    return Medications(current=current, past=past)


# The vitals the summary shows, newest reading of each, in this order.
SUMMARY_VITALS = ("85354-9", "29463-7", "8302-2", "39156-5", "8310-5", "8867-4", "9279-1", "59408-5", "2708-6")


def latest_vitals(*, user: User) -> list[Item]:
    """The newest reading of each common vital, in the person's units (one query)."""
    newest: dict[str, Resource] = {}
    for row in (
        _primary(user)
        .filter(category="vitals", code_system=fhir.LOINC, code__in=SUMMARY_VITALS, clinical_date__isnull=False)
        .order_by("-clinical_date", "-id")[:300]
    ):
        newest.setdefault(row.code, row)
    return [to_item(newest[code], units=user.measurement_units) for code in SUMMARY_VITALS if code in newest]


# ---------------------------------------------------------------- category pages

SORTS = {
    "date": ("-clinical_date", "-id"),
    "oldest": ("clinical_date", "id"),
    "name": ("display", "-clinical_date"),
}

STATUS_FILTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "conditions": {
        "active": ACTIVE_CONDITION,
        "resolved": ("resolved", "inactive", "remission"),
        "not-given": ("",),
    },
    "medications": {"active": ("active", "on-hold", "intended"), "past": ("completed", "stopped", "cancelled")},
    "allergies": {"active": ("active",), "resolved": ("inactive", "resolved"), "not-given": ("",)},
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
    source_token: str = "",
    flag: str = "",
    sort: str = "date",
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> Listing:
    """A page of one category, one row per item (same items from several sources merged).

    Searching labs also matches everyday names and synonyms ("sugar", "kidney") through the code
    tables, and a panel is found when any result inside it matches. `source_token` names an
    organization by its opaque token (see `organization_token`), resolved in the same pass.
    """
    cond = _listed(category)
    matches = Q()
    if q:
        matches = _search(q[:100])
        if category == "labs":
            cond &= matches | _panels_holding(user, matches)
        else:
            cond &= matches
    allowed = STATUS_FILTERS.get(category, {})
    if status in allowed:
        cond &= Q(status__in=allowed[status])
    if flag == "abnormal":
        cond &= Q(flag__in=ABNORMAL_FLAGS)
    in_category = resources_for(user=user).filter(category=category)
    # One pass over the category gives the number of matching items per source and every source in it.
    groups = list(in_category.order_by().values_list("source_org").annotate(n=Count("id", filter=cond)))
    sources = sorted([org for org, _n in groups if org][:50])
    if source_token:
        source = next((org for org in sources if organization_token(org) == source_token), "")
    if source:
        cond &= Q(source_org=source)
    total = sum(n for org, n in groups if org == source or not source)
    qs = in_category.filter(cond).only(*LIST_FIELDS).order_by(*SORTS.get(sort, SORTS["date"]))
    paginator = _CountedPaginator(qs, per_page, count=total)
    page_obj = paginator.get_page(page)
    items = [to_item(r, units=user.measurement_units) for r in page_obj.object_list]
    _with_all_sources(user, items)
    if category == "labs":
        _attach_results(user, items, matches=matches if q else None)
    _mark_new(items, new_since_snapshot_id(user=user))
    return Listing(page=page_obj, items=items, sources=sources, total=total)


def _search(words: str) -> Q:
    cond = Q(display__icontains=words)
    codes = terminology.lab_codes_matching(words)
    if codes:
        cond |= Q(code__in=sorted(codes))
    return cond


def _panels_holding(user: User, matches: Q) -> Q:
    """The panels (by reference) holding a result that matches."""
    refs = set(
        resources_for(user=user)
        .filter(matches, category="labs")
        .exclude(parent_ref="")
        .values_list("parent_ref", flat=True)[:2000]
    )
    by_type: dict[str, list[str]] = {}
    for ref in refs:
        kind, _, rid = ref.partition("/")
        by_type.setdefault(kind, []).append(rid)
    cond = Q(pk__in=[])
    for kind, ids in by_type.items():
        cond |= Q(resource_type=kind, resource_id__in=ids)
    return cond


def _attach_results(user: User, items: list[Item], *, matches: Q | None = None) -> None:
    """Nest results under their panel (DiagnosticReport.result, then Observation.hasMember), two levels.

    With a search, a panel found through its results shows only the results that match.
    """
    parents = {i.resource.reference: i for i in items}
    if not parents:
        return
    children_qs = resources_for(user=user).filter(parent_ref__in=list(parents))
    if matches is not None:
        found = set(Resource.objects.filter(matches, pk__in=[i.pk for i in items]).values_list("pk", flat=True))
        matched_panels = {i.resource.reference for i in items if i.pk in found}
        children_qs = children_qs.filter(matches | Q(parent_ref__in=sorted(matched_panels)))
    children = list(children_qs.only(*LIST_FIELDS).order_by("display"))
    nested = {}
    for child in children:
        item = to_item(child, units=user.measurement_units)
        parents[child.parent_ref].children.append(item)
        nested[child.reference] = item
    if nested:
        for child in (
            resources_for(user=user).filter(parent_ref__in=list(nested)).only(*LIST_FIELDS).order_by("display")[:500]
        ):
            if child.reference not in parents:
                nested[child.parent_ref].children.append(to_item(child, units=user.measurement_units))


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
    encounter: Item | None


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


def _load_refs(user: User, keys: set[str]) -> dict[str, dict]:
    pairs = [k.split("/", 1) for k in keys if k.count("/") == 1]
    if not pairs:
        return {}
    cond = Q()
    for kind, rid in pairs[:200]:
        cond |= Q(resource_type=kind, resource_id=rid)
    return {
        r.reference: r.raw for r in Resource.objects.filter(cond, user=user).only("resource_type", "resource_id", "raw")
    }


def resource_detail(*, user: User, pk: int) -> Detail:
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
    display.name = terminology.own_name_in_language(resource.code_system, resource.code, display.name)
    if resource.category == "vitals" and resource.value_num is not None:
        display.value = fhir.vital_value_text(raw, units=user.measurement_units)
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
            to_item(r, units=user.measurement_units)
            for r in resources_for(user=user)
            .filter(parent_ref=resource.reference)
            .only(*LIST_FIELDS)
            .order_by("display")[:200]
        ]
    elif resource.resource_type == "Encounter":
        children = [
            to_item(r, units=user.measurement_units)
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
            .only(*LIST_FIELDS)
            .first()
        )
    attachments = [
        {
            "index": index,
            "title": documents.attachment_label(title=str(attachment.get("title") or ""), fallback=item.display.name)[
                :200
            ],
            "content_type": str(attachment.get("contentType") or "")[:100],
            "available": bool(attachment.get("url") or attachment.get("data")),
            "readable": documents.is_ccda(str(attachment.get("contentType") or "")),
            "kind": documents.kind_label(str(attachment.get("contentType") or "")),
        }
        for index, attachment in attachments_of(resource)
    ]
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
        encounter=to_item(encounter) if encounter is not None else None,
    )


@dataclass
class Trend:
    anchor: Resource
    name: str
    unit: str
    points: list[dict]
    band: fhir.ReferenceRange | None
    other_units: list[dict]
    series: list[dict] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)


BLOOD_PRESSURE_CODES = (*sorted(fhir.BLOOD_PRESSURE_PANELS), fhir.SYSTOLIC, fhir.DIASTOLIC)
_TREND_FIELDS = ("id", "raw", "clinical_date", "clinical_date_text", "value_num", "value_unit", "flag", "source_org")


def is_trendable(resource: Resource) -> bool:
    """A numeric lab or vital, or a blood pressure reading (a panel's values are in its components)."""
    if resource.category not in ("labs", "vitals"):
        return False
    return resource.value_num is not None or (
        resource.code_system == fhir.LOINC and resource.code in BLOOD_PRESSURE_CODES
    )


def _point(row: Resource, value: float, value_text: str) -> dict:
    flag_code = row.flag if row.flag in ABNORMAL_FLAGS else ""
    return {
        "pk": row.pk,
        "value": value,
        "when": row.clinical_date,
        "date_text": row.clinical_date_text,
        "value_text": value_text,
        "flag": flag_code,
        "flag_label": fhir.FLAG_LABELS.get(flag_code, ("", ""))[0],
        "source": row.source_org,
    }


def _converted_band(band: fhir.ReferenceRange | None, *, units: str) -> fhir.ReferenceRange | None:
    """The usual range in the person's units (converted with the same known factors), or None."""
    if band is None or not fhir.vital_unit_for(band.unit_key, units=units):
        return None
    low = fhir.vital_convert(band.low, band.unit_key, units=units) if band.low is not None else None
    high = fhir.vital_convert(band.high, band.unit_key, units=units) if band.high is not None else None
    converted = low or high
    unit_key = converted[1] if converted else band.unit_key
    return fhir.ReferenceRange(
        low=round(low[0], 1) if low else None,
        high=round(high[0], 1) if high else None,
        unit_key=unit_key,
        unit=fhir.ucum_display(unit_key),
    )


def trend_for(*, user: User, pk: int, limit: int = 500) -> Trend:
    """Every result with the same code and unit as this one, oldest first; other units listed apart.

    Vitals are converted to the person's units with known factors only, so weights given in kg and
    in lb share one chart; blood pressure is two lines (systolic and diastolic).
    """
    anchor = resource_get(user=user, pk=pk)
    if not anchor.code or not is_trendable(anchor):
        raise Resource.DoesNotExist
    if anchor.code_system == fhir.LOINC and anchor.code in BLOOD_PRESSURE_CODES:
        return _blood_pressure_trend(user=user, anchor=anchor, limit=limit)
    units = user.measurement_units if anchor.category == "vitals" else ""
    target = fhir.vital_unit_for(anchor.value_unit, units=units) if units else ""
    same_code = resources_for(user=user).filter(
        resource_type=anchor.resource_type,
        code_system=anchor.code_system,
        code=anchor.code,
        value_num__isnull=False,
    )
    family = {anchor.value_unit, *same_code.order_by().values_list("value_unit", flat=True).distinct()[:20]}
    chart_units = [u for u in family if target and fhir.vital_unit_for(u, units=units) == target] or [anchor.value_unit]
    rows = list(
        same_code.filter(value_unit__in=chart_units, is_primary=True)
        .order_by("-clinical_date", "-id")
        .only(*_TREND_FIELDS)[:limit]
    )
    rows.reverse()
    other_units = [
        {"unit": fhir.ucum_display(unit), "count": n, "pk": first}
        for unit, n, first in same_code.exclude(value_unit__in=chart_units)
        .values_list("value_unit")
        .annotate(n=Count("id"), first=Max("id"))
        .order_by("-n")[:10]
    ]
    points = []
    band_votes: dict[tuple, int] = {}
    band_by_key: dict[tuple, fhir.ReferenceRange] = {}
    unit = ""
    for row in rows:
        value = row.value_num
        if value is None:  # excluded by the query (value_num__isnull=False); this tells the checker
            continue
        measure = fhir.observation_measure(row.raw)
        unit = unit or (measure.unit if measure else "")
        for candidate in fhir.reference_ranges(row.raw):
            if candidate.numeric and candidate.is_normal and candidate.unit_key in (row.value_unit, ""):
                key = (candidate.low, candidate.high, candidate.unit_key)
                band_votes[key] = band_votes.get(key, 0) + 1
                band_by_key[key] = candidate
                break
        converted = fhir.vital_convert(value, row.value_unit, units=units) if target else None
        if converted is not None:
            value_text = fhir.vital_text(converted[0], converted[1], code=anchor.code)
            points.append(_point(row, round(converted[0], 2), value_text))
        else:
            points.append(_point(row, value, fhir.observation_value_text(row.raw)))
    band = band_by_key[max(band_votes, key=band_votes.__getitem__)] if band_votes else None
    if target:
        band = _converted_band(band, units=units)
        unit = fhir.ucum_display(target)
    return Trend(
        anchor=anchor,
        name=terminology.own_name_in_language(anchor.code_system, anchor.code, anchor.display) or gettext("Result"),
        unit=unit or fhir.ucum_display(anchor.value_unit),
        points=points,
        band=band,
        other_units=other_units,
        series=[
            {
                "name": terminology.own_name_in_language(anchor.code_system, anchor.code, anchor.display)
                or gettext("Result"),
                "points": points,
            }
        ],
        rows=list(reversed(points)),
    )


def _blood_pressure_trend(*, user: User, anchor: Resource, limit: int) -> Trend:
    """Systolic and diastolic over time, from BP panels' components and from separate results."""
    readings = list(
        resources_for(user=user)
        .filter(resource_type="Observation", code_system=fhir.LOINC, code__in=BLOOD_PRESSURE_CODES, is_primary=True)
        .order_by("-clinical_date", "-id")
        .only(*_TREND_FIELDS)[: limit * 2]
    )
    readings.reverse()
    systolic: list[dict] = []
    diastolic: list[dict] = []
    rows: list[dict] = []
    lone: dict[str, dict] = {}  # a separate systolic or diastolic result waiting for its pair, by time
    for row in readings:
        high, low = fhir.blood_pressure_values(row.raw)
        value = high if high is not None else low
        if value is None:
            continue
        if high is not None and low is not None:
            text = f"{fhir.format_number(high)}/{fhir.format_number(low)} mmHg"
        elif high is not None:
            text = gettext("Systolic %(value)s mmHg") % {"value": fhir.format_number(high)}
        else:
            text = gettext("Diastolic %(value)s mmHg") % {"value": fhir.format_number(value)}
        if high is not None:
            systolic.append(_point(row, high, gettext("Systolic %(value)s mmHg") % {"value": fhir.format_number(high)}))
        if low is not None:
            diastolic.append(_point(row, low, gettext("Diastolic %(value)s mmHg") % {"value": fhir.format_number(low)}))
        waiting = lone.pop(row.clinical_date_text, None) if row.clinical_date_text else None
        if (high is None) != (low is None) and waiting is not None and (waiting["high"] is None) != (high is None):
            pair_high = high if high is not None else waiting["high"]
            pair_low = low if low is not None else waiting["low"]
            waiting["row"]["value_text"] = f"{fhir.format_number(pair_high)}/{fhir.format_number(pair_low)} mmHg"
            continue
        point = _point(row, value, text)
        rows.append(point)
        if (high is None) != (low is None) and row.clinical_date_text:
            lone[row.clinical_date_text] = {"row": point, "high": high, "low": low}
    return Trend(
        anchor=anchor,
        name=gettext("Blood pressure"),
        unit="mmHg",
        points=rows,
        band=None,
        other_units=[],
        series=[{"name": gettext("Systolic"), "points": systolic}, {"name": gettext("Diastolic"), "points": diastolic}],
        rows=list(reversed(rows)),
    )


@dataclass
class Visit:
    encounter: Item
    items: dict[str, list[Item]]


def timeline_for(*, user: User, page: int = 1, per_page: int = 15) -> tuple[Page, list[Visit]]:
    """Visits newest first, each with what happened in it (two queries per page)."""
    qs = _primary(user).filter(resource_type="Encounter").order_by("-clinical_date", "-id")
    page_obj = Paginator(qs, per_page).get_page(page)
    visits = {
        r.reference: Visit(encounter=to_item(r, units=user.measurement_units), items={}) for r in page_obj.object_list
    }
    if visits:
        for row in (
            _primary(user)
            .filter(encounter_ref__in=list(visits))
            .exclude(resource_type="Encounter")
            .exclude(resource_type="Provenance")
            .order_by("category", "display")[:1500]
        ):
            label = gettext(fhir.CATEGORY_LABELS.get(row.category, gettext_noop("Other")))
            visits[row.encounter_ref].items.setdefault(label, []).append(to_item(row, units=user.measurement_units))
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


def snapshot_latest(*, user: User) -> Snapshot | None:
    return Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).order_by("-id").first()
