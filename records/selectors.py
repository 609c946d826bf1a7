"""Reads of a person's record for the pages and exports; every query is scoped to one person."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Field,
    Func,
    JSONField,
    Max,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.functions import Cast
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.text import get_text_list
from django.utils.translation import gettext, gettext_noop

from accounts.models import User
from records import documents, fhir, terminology
from records.models import ABNORMAL_FLAGS, NETWORK_DEFAULT, NETWORK_NAMES, RecordCensus, Resource, Snapshot

PAGE_SIZE = 25
ACTIVE_CONDITION = ("active", "recurrence", "relapse")
CATEGORIES = tuple(fhir.CATEGORY_LABELS)
LIST_FIELDS = (
    "id",
    "network",
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


# The listing columns without the JSON, which `_listed_columns` reads as text for `to_item` to decode.
_LIST_COLUMNS = tuple(name for name in LIST_FIELDS if name != "raw")


def _listed_columns(rows: QuerySet[Resource]) -> QuerySet[Resource]:
    """`rows.only(*LIST_FIELDS)`, the JSON read as text (`raw_text`): `to_item` decodes it with orjson,
    which the ingest parsed it with, instead of Django's JSON field running `json.loads` on every row
    (a lab page decodes 250 of them)."""
    return rows.only(*_LIST_COLUMNS).annotate(raw_text=Cast("raw", TextField()))


def json_of(text: str) -> Any:
    """Stored JSON text, decoded with orjson as the ingest parsed it (`json` for what orjson refuses)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # stored some other way (orjson refuses what `json` accepts)
        return json.loads(text)


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
    networks: list[str] = field(default_factory=list)
    network_words: str = ""

    @property
    def pk(self) -> int:
        return self.resource.pk

    @property
    def trendable(self) -> bool:
        return is_trendable(self.resource)


def to_item(resource: Resource, *, units: str = "") -> Item:
    """`units` ("us" or "metric") converts vitals with known factors; "" shows them as given. A row read
    by `_listed_columns` gets its JSON decoded here."""
    raw_text = resource.__dict__.pop("raw_text", None)
    if type(raw_text) is str:
        resource.raw = json_of(raw_text)
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
    item = Item(resource=resource, display=display, networks=[resource.network])
    if resource.source_org:
        item.sources.append(resource.source_org)
    return item


def network_name(network: str) -> str:
    """A network as people know it ("Metriport", "Particle"); names are not translated."""
    return NETWORK_NAMES.get(network, network.capitalize())


def networks_words(networks: list[str]) -> str:
    """ "via Metriport and via Particle": every network that delivered an item, in a fixed order."""
    known = list(NETWORK_NAMES)
    ordered = sorted(set(networks), key=lambda n: (known.index(n) if n in known else len(known), n))
    parts = [gettext("via %(network)s") % {"network": network_name(n)} for n in ordered]
    return str(get_text_list(parts, gettext("and")))


def record_networks(*, user: User) -> list[str]:
    """The networks the person's record holds items from (one small query on the snapshots)."""
    return sorted(
        set(
            Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE)
            .order_by()
            .values_list("network", flat=True)
            .distinct()
        )
    )


NETWORK_SOURCES = ("hie", "pharmacy", "lab")


def new_since_snapshot_id(*, user: User) -> int | None:
    """The first snapshot of the person's latest search: items first seen in it or after are "new".

    None when there is nothing to compare with (no search yet, or only one search so far)."""
    complete = Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE)
    return _new_since(list(complete.values_list("id", "request_id", "network_source")))


def _new_since(snapshots: list[tuple[int, str, str]]) -> int | None:
    """`new_since_snapshot_id` from the person's complete snapshots as (id, request id, source): one
    query for the whole decision instead of three."""
    searches = [(pk, request_id) for pk, request_id, source in snapshots if source in NETWORK_SOURCES and request_id]
    if not searches:
        return None
    latest = max(searches)[1]
    boundary = min(pk for pk, request_id, _source in snapshots if request_id == latest)
    return boundary if any(pk < boundary for pk, _request_id, _source in snapshots) else None


def _every_item(items: list[Item]) -> list[Item]:
    """The items and, under each, the results a panel holds, to every level (a panel's own panels)."""
    return [*items, *(member for item in items for member in _every_item(item.children))]


def _mark_new(items: list[Item], boundary: int | None) -> list[Item]:
    if boundary is None:
        return items
    for item in _every_item(items):
        first = item.resource.first_snapshot_id
        item.is_new = first is not None and first >= boundary
    return items


def _with_all_sources(user: User, items: list[Item], *, networks: list[str] | None = None) -> list[Item]:
    """Fill `sources` with every organization that reported the same item, and `networks` with every
    network that delivered it; in a record from more than one network, each item says which
    (two queries, whatever the number of items; one when the record's `networks` are known)."""
    everything = _every_item(items)
    keys = {i.resource.dedupe_key for i in everything if i.resource.dedupe_key}
    if not keys:
        return items
    by_key: dict[str, list[str]] = {}
    networks_by_key: dict[str, list[str]] = {}
    rows = (
        resources_for(user=user)
        .filter(dedupe_key__in=keys)
        .order_by("id")
        .values_list("dedupe_key", "source_org", "network_source", "network")
    )
    for key, org, source, network in rows:
        label = org or fhir.network_source_words(source)
        if label and label not in by_key.setdefault(key, []):
            by_key[key].append(label)
        if network not in networks_by_key.setdefault(key, []):
            networks_by_key[key].append(network)
    several = len(networks if networks is not None else record_networks(user=user)) > 1
    for item in everything:
        item.sources = by_key.get(item.resource.dedupe_key, item.sources)
        item.networks = networks_by_key.get(item.resource.dedupe_key, item.networks)
        if several:
            item.network_words = networks_words(item.networks)
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
    return _listed_columns(resources_for(user=user).filter(is_primary=True))


def _newest_abnormal(base: QuerySet[Resource], *, limit: int) -> list[Resource]:
    """The newest abnormal labs and vitals in one query, where a union cannot order and slice its parts
    (PostgreSQL gets them within `summary_for`'s one union)."""
    flagged = base.filter(flag__in=ABNORMAL_FLAGS, category__in=("labs", "vitals"))
    return list(flagged.order_by("-clinical_date")[:limit])


def _newest_first(groups: list[list[Resource]]) -> list[Resource]:
    rows = [r for group in groups for r in group]
    rows.sort(
        key=lambda r: (r.clinical_date is None, r.clinical_date or datetime.min.replace(tzinfo=UTC)), reverse=True
    )
    return rows


def _newest_together(lists: dict[str, tuple[Q, int]], base: QuerySet[Resource]) -> dict[str, list[Resource]]:
    """Several "newest N of ..." lists of one person in one query (a UNION ALL, each part walking its
    own date index backwards), undated first as PostgreSQL orders them; one query per list where a
    union cannot order and slice its parts."""
    if not connections[base.db].features.supports_slicing_ordering_in_compound:
        return {name: list(base.filter(cond).order_by("-clinical_date")[:n]) for name, (cond, n) in lists.items()}
    parts = [
        base.filter(cond).annotate(summary_list=Value(name)).order_by("-clinical_date")[:n]
        for name, (cond, n) in lists.items()
    ]
    found: dict[str, list[Resource]] = {name: [] for name in lists}
    for row in parts[0].union(*parts[1:], all=True):
        found[row.summary_list].append(row)
    return {name: _newest_first([rows]) for name, rows in found.items()}


def summary_for(*, user: User) -> Summary:
    """What the summary page shows, in a fixed small number of queries."""
    base = _primary(user).exclude(status__in=("entered-in-error", "refuted"))
    together = connections[base.db].features.supports_slicing_ordering_in_compound
    # One query for the "last updated" time, the "new" boundary and the record's networks (the pages
    # show only `finished_at`).
    snapshots = list(
        Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE)
        .order_by("-id")
        .only("id", "user_id", "status", "request_id", "network_source", "network", "finished_at")
    )
    networks = sorted({row.network for row in snapshots})
    boundary = _new_since([(row.pk, row.request_id, row.network_source) for row in snapshots])
    new_since = Q(first_snapshot_id__gte=boundary) & ~Q(category="other")
    wanted = {
        "allergies": (Q(category="allergies") & ~Q(status__in=("inactive", "resolved")), 20),
        "conditions": (Q(category="conditions", status__in=ACTIVE_CONDITION), 20),
        "conditions_without_status": (Q(category="conditions", status=""), 20),
        "immunizations": (Q(category="immunizations"), 8),
        "encounters": (Q(category="encounters"), 5),
    }
    if together:
        wanted["abnormal_labs"] = (Q(flag__in=ABNORMAL_FLAGS, category="labs"), 8)
        wanted["abnormal_vitals"] = (Q(flag__in=ABNORMAL_FLAGS, category="vitals"), 8)
    if boundary is not None:
        wanted["new"] = (new_since, 10)
    lists = _newest_together(wanted, base)
    units = user.measurement_units
    allergies = [to_item(r, units=units) for r in lists["allergies"]]
    conditions = [to_item(r, units=units) for r in lists["conditions"]]
    conditions_without_status = [to_item(r, units=units) for r in lists["conditions_without_status"]]
    reconciled = medications_reconciled(user=user, networks=networks)
    medications = reconciled.current[:20]
    abnormal_rows = (
        _newest_first([lists["abnormal_labs"], lists["abnormal_vitals"]])[:8]
        if together
        else _newest_abnormal(base, limit=8)
    )
    abnormal = [to_item(r, units=units) for r in abnormal_rows]
    immunizations = [to_item(r, units=units) for r in lists["immunizations"]]
    encounters = [to_item(r, units=units) for r in lists["encounters"]]
    counts = category_counts(user=user, medications=reconciled)
    last = snapshots[0] if snapshots else None
    new_items = [to_item(r, units=units) for r in lists.get("new", [])]
    new_count = len(new_items) if len(new_items) < 10 else base.filter(new_since).count()
    for group in (allergies, conditions, abnormal, immunizations, encounters, new_items):
        _mark_new(group, boundary)
    _with_all_sources(
        user,
        [*allergies, *conditions, *conditions_without_status, *abnormal, *immunizations, *encounters, *new_items],
        networks=networks,
    )
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


@dataclass(frozen=True)
class CensusGroup:
    """Current items of one person that share these columns (see `RecordCensus`)."""

    category: str
    source_org: str
    resource_type: str
    is_primary: bool
    in_panel: bool
    abnormal: bool
    count: int

    @property
    def listed(self) -> bool:
        """Whether a category page lists these items (`_listed`): primary, and for labs not inside a panel."""
        if not self.is_primary:
            return False
        return self.category != "labs" or self.resource_type == "DiagnosticReport" or not self.in_panel


def census_count(*, user_id: int) -> list[list]:
    """The person's current items counted by the census columns: one pass over their rows."""
    rows = (
        Resource.objects.filter(user_id=user_id, retired_at__isnull=True)
        .annotate(
            in_panel=ExpressionWrapper(~Q(parent_ref=""), output_field=BooleanField()),
            abnormal=ExpressionWrapper(Q(flag__in=ABNORMAL_FLAGS), output_field=BooleanField()),
        )
        .order_by()
        .values_list("category", "source_org", "resource_type", "is_primary", "in_panel", "abnormal")
        .annotate(n=Count("id"))
    )
    return [
        [c, org, kind, bool(primary), bool(panel), bool(abnormal), n]
        for c, org, kind, primary, panel, abnormal, n in rows
    ]


def census_for(*, user: User) -> list[CensusGroup]:
    """The counts kept at the last ingest (one small row), else counted now."""
    kept = RecordCensus.objects.filter(user=user).values_list("groups", flat=True).first()
    groups = kept if kept is not None else census_count(user_id=user.pk)
    return [CensusGroup(*group) for group in groups]


def category_counts(
    *, user: User, medications: Medications | None = None, census: list[CensusGroup] | None = None
) -> dict[str, int]:
    """Items per category, counted as the category pages list them (so the summary and pages agree):
    lab panels once, medications once per drug after reconciling."""
    counts: dict[str, int] = {}
    for group in census if census is not None else census_for(user=user):
        if group.is_primary and (group.category != "labs" or group.listed):
            counts[group.category] = counts.get(group.category, 0) + group.count
    counts.setdefault("labs", 0)
    medications = medications or medications_reconciled(user=user)
    counts["medications"] = len(medications.current) + len(medications.past)
    return counts


def lab_result_count(*, user: User, census: list[CensusGroup] | None = None) -> int:
    """Every single lab result, inside panels or not (the lab page says both figures)."""
    return sum(
        g.count
        for g in (census if census is not None else census_for(user=user))
        if g.is_primary and g.category == "labs" and g.resource_type == "Observation"
    )


# ---------------------------------------------------------------- medications

RECENT_FILL = timedelta(days=183)
_CURRENT_MED_STATUSES = ("active", "on-hold", "intended")
_PAST_MED_STATUSES = ("completed", "stopped", "cancelled", "not-taken")
_MED_RECORD_TYPES = ("MedicationRequest", "MedicationStatement")


class MedicationRow(NamedTuple):
    """One copy of a medication as the reconciliation reads it: the listing columns in the model's
    order without its JSON, which `MedicationCopies` reads for the copies a page describes."""

    id: int
    network: str
    resource_type: str
    resource_id: str
    category: str
    code_system: str
    code: str
    display: str
    status: str
    clinical_date: datetime | None
    clinical_date_text: str
    value_num: float | None
    value_unit: str
    flag: str
    source_org: str
    network_source: str
    encounter_ref: str
    parent_ref: str
    dedupe_key: str
    first_snapshot_id: int | None


# The columns of a described copy as the model names them (`Model.from_db` takes them in this order).
_RAW_AT = MedicationRow._fields.index("resource_id") + 1
_MEDICATION_COLUMNS = [*MedicationRow._fields[:_RAW_AT], "raw", *MedicationRow._fields[_RAW_AT:]]


_DATE_AT = MedicationRow._fields.index("clinical_date")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _EpochMicroseconds(Func):
    """A time as whole microseconds since 1970 (PostgreSQL), a number the driver reads in C: Django's
    time-zone loader parses every timestamp in Python, and a long record's medication list reads 700."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    # A plain field, not an integer one: the driver gives an int already, and Django would call `int()`
    # on each row for an integer field.
    output_field = Field()


def _moment(microseconds: int | None) -> datetime | None:
    """A time read as `_EpochMicroseconds`, as Django would have given it (aware, in UTC)."""
    return None if microseconds is None else _EPOCH + timedelta(microseconds=microseconds)


def _medication_row(values: tuple) -> MedicationRow:
    """A copy's row whose time was read as `_EpochMicroseconds`."""
    if values[_DATE_AT] is None:
        return MedicationRow._make(values)
    return MedicationRow._make((*values[:_DATE_AT], _moment(values[_DATE_AT]), *values[_DATE_AT + 1 :]))


class MedicationCopies:
    """A long record mentions a drug hundreds of times and a page shows a few of them: each copy
    becomes a resource, its JSON read, decoded and described, only when it is shown, and once.

    The JSON of the copies the reconciliation describes is read ahead in one query (`read`); a copy
    asked for beyond them has every copy's JSON read at once, so a page takes one more query at most.
    Reading all 700 copies' JSON of a long record to describe a dozen was most of the summary's
    database time."""

    def __init__(self, rows: QuerySet[Resource], every: list[int], *, texts: dict[int, str]) -> None:
        self.rows = rows
        self.every = every
        self.texts = texts  # the JSON read so far, by id
        self.described: dict[int, Item] = {}

    def read(self, ids: list[int]) -> None:
        """The JSON of these copies, those not read yet, in one query."""
        wanted = sorted(set(ids).difference(self.texts))
        if wanted:
            self.texts.update(self.rows.filter(pk__in=wanted).order_by().values_list("pk", Cast("raw", TextField())))

    def item(self, row: MedicationRow) -> Item:
        found = self.described.get(row.id)
        if found is None:
            text = self.texts.get(row.id)
            if text is None:
                self.read(self.every)
                text = self.texts[row.id]
            values = [*row[:_RAW_AT], orjson.loads(text), *row[_RAW_AT:]]
            found = self.described[row.id] = to_item(Resource.from_db(self.rows.db, _MEDICATION_COLUMNS, values))
        return found


@dataclass
class MedicationGroup:
    """One drug, with every request, statement and dispense that mentions it (`rows`, newest first)."""

    name: str
    current: bool
    latest: Item
    rows: list[MedicationRow]
    last_filled: fhir.FhirDate | None
    status: str
    copies: MedicationCopies
    network_words: str = ""

    @property
    def pk(self) -> int:
        return self.latest.pk

    @property
    def items(self) -> list[Item]:
        return [self.copies.item(row) for row in self.rows]

    @property
    def instructions(self) -> str:
        return next((value for value in (self.copies.item(row).display.value for row in self.rows) if value), "")

    @property
    def display(self) -> fhir.Display:
        """What the printed summary shows, as for any item."""
        return fhir.Display(name=self.name, date=self.latest.display.date, status=self.status, value=self.instructions)

    @property
    def sources(self) -> list[str]:
        return sorted({row.source_org for row in self.rows if row.source_org})


@dataclass
class Medications:
    current: list[MedicationGroup]
    past: list[MedicationGroup]


def _medication_key(row: MedicationRow, *, rxnorm: bool) -> str:
    """The drug a copy names: its RxNorm code (`rxnorm`: its code system is RxNorm), else its words."""
    if row.code and rxnorm:
        return f"rxnorm|{row.code}"
    words = re.sub(r"[^a-z0-9.]+", " ", (row.display or "").lower()).split()
    return "name|" + " ".join(words) if words else f"self|{row.resource_type}/{row.resource_id}"


def _sort_moment(item: Item) -> datetime:
    return item.display.date.sort_key if item.display.date else datetime.min.replace(tzinfo=UTC)


def _row_moment(row: MedicationRow) -> datetime:
    """When a copy happened: its `clinical_date` column, which the ingest sets to the sort key of the
    date `fhir.describe` shows."""
    return row.clinical_date or datetime.min.replace(tzinfo=UTC)


def medications_reconciled(
    *, user: User, now: datetime | None = None, limit: int = 5000, networks: list[str] | None = None
) -> Medications:
    """Requests, statements and dispenses of the same drug (same RxNorm code, else the same name)
    merged into one line each, split into current and past.

    The rule, newest evidence first: a drug is current when the newest request or statement that
    gives a status says active, on hold or intended, or when it was dispensed in the last six
    months; a newer stopped or completed request or statement makes it past. A missing status
    decides nothing and never hides a drug: what is not current is listed under past.

    The rule reads columns only; a copy's JSON is decoded when the line shows it (`MedicationCopies`).
    `networks` are the record's (`record_networks`), when the caller already read them.
    """
    now = now or datetime.now(UTC)
    medications = resources_for(user=user).filter(category="medications").exclude(status="entered-in-error")
    texts: dict[int, str] = {}
    found: Iterable[MedicationRow]
    if connections[medications.db].vendor == "postgresql":
        columns = [_EpochMicroseconds(name) if name == "clinical_date" else name for name in MedicationRow._fields]
        found = map(_medication_row, medications.order_by("id").values_list(*columns)[:limit])
    else:
        # Elsewhere the JSON is stored as text: reading it with the columns costs little and saves a query.
        listed: list[MedicationRow] = []
        for *values, text in medications.order_by("id").values_list(*MedicationRow._fields, Cast("raw", TextField()))[
            :limit
        ]:
            listed.append(MedicationRow._make(values))
            texts[values[0]] = text
        found = listed
    groups: dict[str, list[MedicationRow]] = {}
    rxnorm: dict[str, bool] = {}  # whether a code system is RxNorm, once per system for 700 copies
    for row in found:
        system = row.code_system
        is_rxnorm = rxnorm.get(system)
        if is_rxnorm is None:
            is_rxnorm = rxnorm[system] = terminology.canonical_system(system) == terminology.RXNORM
        groups.setdefault(_medication_key(row, rxnorm=is_rxnorm), []).append(row)
    current: list[MedicationGroup] = []
    past: list[MedicationGroup] = []
    if networks is None and groups:
        networks = record_networks(user=user)
    several = len(networks or []) > 1
    decided: list[tuple[list[MedicationRow], MedicationRow | None, MedicationRow, MedicationRow | None]] = []
    for rows in groups.values():
        rows.sort(key=_row_moment, reverse=True)
        dispense = next(
            (r for r in rows if r.resource_type == "MedicationDispense" and r.clinical_date is not None), None
        )
        deciding = next(
            (
                row
                for row in rows
                if (row.resource_type in _MED_RECORD_TYPES and row.status in _CURRENT_MED_STATUSES + _PAST_MED_STATUSES)
                or (
                    row.resource_type == "MedicationDispense"
                    and row.clinical_date
                    and now - row.clinical_date < RECENT_FILL
                )
            ),
            None,
        )
        named = next((r for r in rows if r.resource_type in _MED_RECORD_TYPES and r.display), rows[0])
        decided.append((rows, deciding, named, dispense))
    copies = MedicationCopies(medications, [row.id for rows in groups.values() for row in rows], texts=texts)
    # Read ahead: what the lines below describe, and each drug's newest copy (its instructions, mostly).
    copies.read([copy.id for rows, *chosen in decided for copy in (rows[0], *chosen) if copy is not None])
    for rows, deciding, named, dispense in decided:
        verdict, status = None, ""
        if deciding is not None and deciding.resource_type in _MED_RECORD_TYPES:
            verdict, status = deciding.status in _CURRENT_MED_STATUSES, copies.item(deciding).display.status
        elif deciding is not None:
            verdict, status = True, gettext("Filled recently")
        group = MedicationGroup(
            name=copies.item(named).display.name,
            current=bool(verdict),
            latest=copies.item(rows[0]),
            rows=rows,
            last_filled=copies.item(dispense).display.date if dispense is not None else None,
            status=status or fhir.STATUS_NOT_GIVEN,
            network_words=networks_words([r.network for r in rows]) if several else "",
            copies=copies,
        )
        (current if group.current else past).append(group)
    for bucket in (current, past):
        bucket.sort(key=lambda g: (-_sort_moment(g.latest).timestamp(), g.name.lower()))
    return Medications(current=current, past=past)


# The vitals the summary shows, newest reading of each, in this order.
SUMMARY_VITALS = ("85354-9", "29463-7", "8302-2", "39156-5", "8310-5", "8867-4", "9279-1", "59408-5", "2708-6")


def latest_vitals(*, user: User) -> list[Item]:
    """The newest reading of each common vital among the 300 newest, in the person's units: their ids
    found without their JSON, then just those read; on PostgreSQL one query (`DISTINCT ON` the code
    in a subquery), elsewhere two."""
    readings = resources_for(user=user).filter(
        is_primary=True, category="vitals", code_system=fhir.LOINC, code__in=SUMMARY_VITALS, clinical_date__isnull=False
    )
    if connections[readings.db].features.can_distinct_on_fields:
        newest = readings.order_by("-clinical_date", "-id").values("pk")[:300]
        # The subquery's rows are the person's already; the plainest query sets cost the least to build.
        newest_each = (
            Resource.objects.filter(pk__in=newest)
            .order_by("code", "-clinical_date", "-id")
            .distinct("code")
            .values("pk")
        )
        rows = {row.code: row for row in _listed_columns(Resource.objects.filter(user=user, pk__in=newest_each))}
    else:
        found: dict[str, int] = {}
        for pk, code in readings.order_by("-clinical_date", "-id").values_list("pk", "code")[:300]:
            found.setdefault(code, pk)
        rows = {row.code: row for row in _primary(user).filter(pk__in=found.values())} if found else {}
    return [to_item(rows[code], units=user.measurement_units) for code in SUMMARY_VITALS if code in rows]


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
    lab_results: int = 0  # every single lab result, inside panels or not (the lab page says both)
    networks: list[str] = field(default_factory=list)  # the record's (`record_networks`)


class _IdsFirst:
    """A listing a paginator slices into one query that finds the page's ids first (`id IN (SELECT id
    ... OFFSET n LIMIT 25)`): the rows before a page are walked in an index alone, never read whole
    (page 50 of the labs read 1,250 rows of JSON to show 25)."""

    def __init__(self, rows: QuerySet[Resource]) -> None:
        self.rows = rows

    def __getitem__(self, window: slice) -> QuerySet[Resource]:
        return self.rows.filter(pk__in=self.rows.values("pk")[window])


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
    # The census names every source in the category and counts the items of an unsearched page.
    census = [g for g in census_for(user=user) if g.category == category]
    sources = sorted({g.source_org for g in census if g.source_org})[:50]
    if source_token:
        source = next((org for org in sources if organization_token(org) == source_token), "")
    if source:
        cond &= Q(source_org=source)
    if q or status in allowed:
        total = in_category.filter(cond).count()
    else:
        total = sum(
            g.count
            for g in census
            if g.listed and (g.abnormal or flag != "abnormal") and (g.source_org == source or not source)
        )
    qs = _listed_columns(in_category.filter(cond)).order_by(*SORTS.get(sort, SORTS["date"]))
    paginator = _CountedPaginator(_IdsFirst(qs), per_page, count=total)
    page_obj = paginator.get_page(page)
    items = [to_item(r, units=user.measurement_units) for r in page_obj.object_list]
    if category == "labs":
        _attach_results(user, items, matches=matches if q else None)
    snapshots = list(
        Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).values_list(
            "id", "request_id", "network_source", "network"
        )
    )
    networks = sorted({network for _pk, _request_id, _source, network in snapshots})
    _with_all_sources(user, items, networks=networks)
    _mark_new(items, _new_since([(pk, request_id, source) for pk, request_id, source, _network in snapshots]))
    lab_results = sum(g.count for g in census if g.is_primary and g.resource_type == "Observation")
    return Listing(
        page=page_obj,
        items=items,
        sources=sources,
        total=total,
        lab_results=lab_results if category == "labs" else 0,
        networks=networks,
    )


def _search(words: str) -> Q:
    cond = Q(display__icontains=words)
    codes = terminology.lab_codes_matching(words)
    if codes:
        cond |= Q(code__in=sorted(codes))
    return cond


def _panels_holding(user: User, matches: Q) -> Q:
    """The panels (by reference, within the network of the result) holding a result that matches."""
    refs = set(
        resources_for(user=user)
        .filter(matches, category="labs")
        .exclude(parent_ref="")
        .values_list("network", "parent_ref")[:2000]
    )
    by_type: dict[tuple[str, str], list[str]] = {}
    for network, ref in refs:
        kind, _, rid = ref.partition("/")
        by_type.setdefault((network, kind), []).append(rid)
    cond = Q(pk__in=[])
    for (network, kind), ids in by_type.items():
        cond |= Q(network=network, resource_type=kind, resource_id__in=ids)
    return cond


def panel_results(rows: QuerySet[Resource]) -> QuerySet[Resource]:
    """The rows that can be results inside a panel: Observations, the only type DiagnosticReport.result
    and Observation.hasMember name. A Provenance's `parent_ref` is its target, so one about a panel
    (as HL7v2 and C-CDA converters write them) would otherwise be listed as one of its results."""
    return rows.filter(resource_type="Observation")


def _attach_results(user: User, items: list[Item], *, matches: Q | None = None) -> None:
    """Nest results under their panel (DiagnosticReport.result, then Observation.hasMember), two levels.

    With a search, a panel found through its results shows only the results that match.
    """
    parents = {(i.resource.network, i.resource.reference): i for i in items}
    if not parents:
        return
    results = panel_results(resources_for(user=user))
    children_qs = results.filter(parent_ref__in=sorted({ref for _n, ref in parents}))
    if matches is not None:
        found = set(Resource.objects.filter(matches, pk__in=[i.pk for i in items]).values_list("pk", flat=True))
        whole_panels = Q(pk__in=[])
        for item in items:
            if item.pk in found:
                whole_panels |= Q(network=item.resource.network, parent_ref=item.resource.reference)
        children_qs = children_qs.filter(matches | whole_panels)
    children = list(_listed_columns(children_qs).order_by("display"))
    nested = {}
    for child in children:
        parent = parents.get((child.network, child.parent_ref))
        if parent is None:  # the same reference in another network's record names another panel
            continue
        item = to_item(child, units=user.measurement_units)
        parent.children.append(item)
        if _lists_members(child.raw):
            nested[(child.network, child.reference)] = item
    if nested:
        members_qs = results.filter(parent_ref__in=sorted({ref for _n, ref in nested}))
        for child in _listed_columns(members_qs).order_by("display")[:500]:
            holder = nested.get((child.network, child.parent_ref))
            if holder is not None and (child.network, child.reference) not in parents:
                holder.children.append(to_item(child, units=user.measurement_units))


def _lists_members(raw: Any) -> bool:
    """Whether a result is a panel itself (`hasMember`). Only then can a row name it as its parent:
    the ingest takes a result's parent from the panel's own list, in the same whole record. A page of
    results without members then asks for none (the question was a list of every result's reference)."""
    members = raw.get("hasMember") if isinstance(raw, dict) else None
    return isinstance(members, list) and bool(members)


# ---------------------------------------------------------------- detail, trend, timeline


@dataclass
class ReportedCopy:
    """One copy of an item as a source reported it; `network` is named when the record has several."""

    pk: int
    source_org: str
    clinical_date_text: str
    network: str


@dataclass
class Detail:
    item: Item
    sources: list[fhir.Source]
    reported_by: list[ReportedCopy]
    children: list[Item]
    provenances: list[dict]
    ranges: list[fhir.ReferenceRange]
    narrative: str
    raw_json: str
    attachments: list[dict]
    encounter: Item | None
    network: str = ""
    network_words: str = ""


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


def _load_refs(user: User, keys: set[str], *, network: str) -> dict[str, dict]:
    """The resources references name, within the network that sent the item (ids are its own)."""
    pairs = [k.split("/", 1) for k in keys if k.count("/") == 1]
    if not pairs:
        return {}
    cond = Q()
    for kind, rid in pairs[:200]:
        cond |= Q(resource_type=kind, resource_id=rid)
    return {
        r.reference: r.raw
        for r in Resource.objects.filter(cond, user=user, network=network).only("resource_type", "resource_id", "raw")
    }


def resource_detail(*, user: User, pk: int) -> Detail:
    resource = resource_get(user=user, pk=pk)
    raw = resource.raw if isinstance(resource.raw, dict) else {}
    keys: set[str] = set()
    _reference_keys(raw, keys)
    same_network = resources_for(user=user).filter(network=resource.network)
    provenance_rows = list(same_network.filter(resource_type="Provenance", parent_ref=resource.reference)[:20])
    provenances = [p.raw for p in provenance_rows]
    for provenance in provenances:
        _reference_keys(provenance.get("agent"), keys)
    refs = _load_refs(user, keys, network=resource.network)
    second: set[str] = set()
    for target in refs.values():
        _reference_keys({k: target.get(k) for k in ("serviceProvider", "organization", "practitioner")}, second)
    refs.update(_load_refs(user, second - set(refs), network=resource.network))

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
    copies = list(
        resources_for(user=user)
        .filter(dedupe_key=resource.dedupe_key)
        .order_by("id")
        .only("id", "network", "source_org", "clinical_date_text")[:20]
    )
    networks = [other.network for other in copies] or [resource.network]
    several = len(set(networks)) > 1 or len(record_networks(user=user)) > 1
    reported_by = [
        ReportedCopy(
            pk=other.pk,
            source_org=other.source_org,
            clinical_date_text=other.clinical_date_text,
            network=network_name(other.network) if several else "",
        )
        for other in copies
    ]
    item.sources = list(dict.fromkeys(other.source_org for other in copies if other.source_org))
    children: list[Item] = []
    if resource.resource_type in ("DiagnosticReport", "Observation"):
        # Its results, and those of a panel among them, as the labs page lists them.
        _attach_results(user, [item])
        children = item.children
    elif resource.resource_type == "Encounter":
        children = [
            to_item(r, units=user.measurement_units)
            for r in same_network.filter(encounter_ref=resource.reference)
            .exclude(pk=resource.pk)
            .only(*LIST_FIELDS)
            .order_by("category", "display")[:200]
        ]
    encounter = None
    if resource.encounter_ref and resource.resource_type != "Encounter":
        encounter = (
            same_network.filter(resource_type="Encounter", resource_id=resource.encounter_ref.split("/", 1)[-1])
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
        network=network_name(resource.network),
        network_words=networks_words(networks) if several else "",
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


class _ResultParts(Func):
    """A result's JSON without the large parts a trend never reads (it reads `value[x]`, components, the
    data-absent reason and reference ranges): PostgreSQL drops them, so the 500 results of a chart
    send and decode a fraction of their JSON; elsewhere it is the whole resource."""

    output_field = JSONField()
    postgresql_template = (
        "(%(expressions)s - '{resourceType,id,meta,text,contained,extension,identifier,status,category,code,"
        "subject,encounter,effectiveDateTime,effectivePeriod,issued,performer,interpretation,note,specimen}'::text[])"
    )

    def as_sql(self, compiler, connection, **extra_context):  # type: ignore[no-untyped-def, override]
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):  # type: ignore[no-untyped-def]
        return super().as_sql(compiler, connection, template=self.postgresql_template, **extra_context)


class _TrendRow(NamedTuple):
    """One result of a trend: the `_TREND_FIELDS` columns, `_ResultParts` of its JSON in place of `raw`."""

    pk: int
    parts: dict
    clinical_date: datetime | None
    clinical_date_text: str
    value_num: float | None
    value_unit: str
    flag: str
    source_org: str


def is_trendable(resource: Resource) -> bool:
    """A numeric lab or vital, or a blood pressure reading (a panel's values are in its components)."""
    if resource.category not in ("labs", "vitals"):
        return False
    return resource.value_num is not None or (
        resource.code_system == fhir.LOINC and resource.code in BLOOD_PRESSURE_CODES
    )


def _point(row: Resource | _TrendRow, value: float, value_text: str) -> dict:
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
    # The parts are read as text and decoded with orjson (as the ingest parsed them), not by Django's
    # JSON field's `json.loads`, 500 times.
    # On PostgreSQL the times are read as numbers (`_EpochMicroseconds`), 500 of them.
    postgres = connections[same_code.db].vendor == "postgresql"
    columns: dict[str, Func] = {"raw": Cast(_ResultParts("raw"), TextField())}
    if postgres:
        columns["clinical_date"] = _EpochMicroseconds("clinical_date")
    rows = [
        _TrendRow(pk, json_of(parts), _moment(when) if postgres else when, *rest)
        for pk, parts, when, *rest in same_code.filter(value_unit__in=chart_units, is_primary=True)
        .order_by("-clinical_date", "-id")
        .values_list(*(columns.get(name, name) for name in _TREND_FIELDS))[:limit]
    ]
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
        measure = fhir.observation_measure(row.parts)
        unit = unit or (measure.unit if measure else "")
        for candidate in fhir.reference_ranges(row.parts):
            if candidate.numeric and candidate.is_normal and candidate.unit_key in (row.value_unit, ""):
                key = (candidate.low, candidate.high, candidate.unit_key)
                band_votes[key] = band_votes.get(key, 0) + 1
                band_by_key[key] = candidate
                break
        converted = fhir.vital_convert(value, row.value_unit, units=units) if target else None
        if converted is not None:
            value_text = fhir.vital_text(converted[0], converted[1], code=anchor.code)
            points.append(_point(row, round(converted[0], 2), value_text))
        elif measure is not None and isinstance(row.parts.get("valueQuantity"), dict):
            points.append(_point(row, value, fhir.measure_text(measure)))
        else:
            points.append(_point(row, value, fhir.observation_value_text(row.parts)))
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
    """Visits newest first, each with what happened in it (two queries per page, and the census for
    the number of pages).

    The visits are found by category as well as type so that PostgreSQL walks the category's date
    index backwards and stops at the page, and by their ids first: found by type alone, every visit
    of the record (4,000 of 50,000 resources) was read and its JSON cast to text before the sort kept
    fifteen (70 ms of the database's time a page)."""
    visits_qs = _primary(user).filter(category="encounters", resource_type="Encounter")
    count = sum(
        g.count
        for g in census_for(user=user)
        if g.is_primary and g.category == "encounters" and g.resource_type == "Encounter"
    )
    qs = visits_qs.order_by("-clinical_date", "-id")
    page_obj = _CountedPaginator(_IdsFirst(qs), per_page, count=count).get_page(page)
    visits = {
        (r.network, r.reference): Visit(encounter=to_item(r, units=user.measurement_units), items={})
        for r in page_obj.object_list
    }
    if visits:
        for row in (
            _primary(user)
            .filter(encounter_ref__in=sorted({ref for _n, ref in visits}))
            .exclude(resource_type="Encounter")
            .exclude(resource_type="Provenance")
            .order_by("category", "display")[:1500]
        ):
            visit = visits.get((row.network, row.encounter_ref))
            if visit is None:  # the same reference in another network's record names another visit
                continue
            label = gettext(fhir.CATEGORY_LABELS.get(row.category, gettext_noop("Other")))
            visit.items.setdefault(label, []).append(to_item(row, units=user.measurement_units))
        _with_all_sources(
            user,
            [
                *(v.encounter for v in visits.values()),
                *(i for v in visits.values() for items in v.items.values() for i in items),
            ],
        )
    return page_obj, list(visits.values())


# ---------------------------------------------------------------- exports


NETWORK_TAG_SYSTEM = "https://homeport.example/fhir/CodeSystem/network"


def _tagged(raw: dict, network: str) -> dict:
    """A copy of a resource carrying, in `meta.tag`, the network that delivered it: exports keep
    each copy of an item reported through two networks, and say which network each came from."""
    if not isinstance(raw, dict):
        return raw
    found = raw.get("meta")
    meta: dict = found if isinstance(found, dict) else {}
    given = meta.get("tag") or []
    # A tag that is not a list (one Coding, or a stray value) is kept, as the list's first item.
    given = given if isinstance(given, list) else [given]
    tags = [t for t in given if not (isinstance(t, dict) and t.get("system") == NETWORK_TAG_SYSTEM)]
    tags.append({"system": NETWORK_TAG_SYSTEM, "code": network, "display": network_name(network)})
    return {**raw, "meta": {**meta, "tag": tags}}


def _export_rows(user_id: int) -> Iterator[tuple[str, str, dict]]:
    qs = Resource.objects.filter(user_id=user_id, retired_at__isnull=True).order_by("resource_type", "id")
    yield from qs.values_list("resource_type", "network", "raw").iterator(chunk_size=2000)


def record_iter_resources(*, user_id: int) -> Iterator[tuple[str, bytes]]:
    """(resourceType, JSON bytes) of every current resource, by type, streamed from the database."""
    for kind, network, raw in _export_rows(user_id):
        yield kind, orjson.dumps(_tagged(raw, network))


def record_export_bundle(*, user_id: int) -> dict:
    """The whole current record as a FHIR Bundle of type collection; a resource from a network other
    than the first has its network in its `fullUrl`, so two networks' ids never clash."""
    entries = [
        {
            "fullUrl": f"{kind}/{raw.get('id', '')}"
            if network == NETWORK_DEFAULT
            else f"https://homeport.example/fhir/{network}/{kind}/{raw.get('id', '')}",
            "resource": _tagged(raw, network),
        }
        for kind, network, raw in _export_rows(user_id)
    ]
    return {"resourceType": "Bundle", "type": "collection", "total": len(entries), "entry": entries}


def snapshot_latest(*, user: User) -> Snapshot | None:
    return Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).order_by("-id").first()
