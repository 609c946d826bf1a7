"""Reads for SMART Health Links: what a share carries, and the person's shares with their openings."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from records.models import Resource, Share, ShareOpening
from records.selectors import resources_for


@dataclass(frozen=True)
class SectionSpec:
    """One section of the shared summary: an International Patient Summary section and where its items live."""

    slug: str
    title: str
    loinc: str
    loinc_display: str
    category: str
    summary_limit: int
    excluded_statuses: tuple[str, ...] = ()


# LOINC section codes from the IPS Composition profile (plus the C-CDA encounters section for visits).
SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(
        "allergies",
        "Allergies and intolerances",
        "48765-2",
        "Allergies and adverse reactions Document",
        "allergies",
        50,
        ("inactive", "resolved"),
    ),
    SectionSpec(
        "problems",
        "Problems",
        "11450-4",
        "Problem list - Reported",
        "conditions",
        50,
        ("resolved", "inactive", "remission"),
    ),
    SectionSpec(
        "medications",
        "Medications",
        "10160-0",
        "History of Medication use Narrative",
        "medications",
        50,
        ("completed", "stopped", "cancelled", "not-taken"),
    ),
    SectionSpec("immunizations", "Immunizations", "11369-6", "History of Immunization Narrative", "immunizations", 50),
    SectionSpec("results", "Results", "30954-2", "Relevant diagnostic tests/laboratory data Narrative", "labs", 30),
    SectionSpec("vitals", "Vital signs", "8716-3", "Vital signs", "vitals", 20),
    SectionSpec("procedures", "Procedures", "47519-4", "History of Procedures Document", "procedures", 0),
    SectionSpec(
        "encounters",
        "Visits",
        "46240-8",
        "History of Hospitalizations+Outpatient visits Narrative",
        "encounters",
        0,
    ),
)
SECTIONS_BY_SLUG = {spec.slug: spec for spec in SECTIONS}
SUMMARY_SECTIONS = ("allergies", "problems", "medications", "immunizations", "results", "vitals")
# IPS requires these three sections even when empty (with an emptyReason).
REQUIRED_SECTIONS = ("allergies", "problems", "medications")
WHOLE_RECORD_LIMIT = 2000


@dataclass
class SharedSection:
    spec: SectionSpec
    resources: list[Resource] = field(default_factory=list)


def share_sections_for(*, user: User, scope: str, categories: list[str]) -> list[SharedSection]:
    """The items a new share carries, per section, in the order the summary shows them."""
    if scope == Share.SCOPE_SUMMARY:
        slugs = list(SUMMARY_SECTIONS)
    elif scope == Share.SCOPE_EVERYTHING:
        slugs = [spec.slug for spec in SECTIONS]
    else:
        slugs = [spec.slug for spec in SECTIONS if spec.slug in categories]
    base = (
        resources_for(user=user)
        .filter(is_primary=True)
        .exclude(status__in=("entered-in-error", "refuted"))
        .order_by("-clinical_date", "-id")
    )
    sections = []
    for slug in slugs:
        spec = SECTIONS_BY_SLUG[slug]
        rows = base.filter(category=spec.category)
        if scope == Share.SCOPE_SUMMARY:
            rows = rows.exclude(status__in=spec.excluded_statuses)[: spec.summary_limit]
        else:
            rows = rows[:WHOLE_RECORD_LIMIT]
        sections.append(SharedSection(spec=spec, resources=list(rows)))
    return sections


def share_referenced_resources(*, user: User, references: set[str]) -> list[Resource]:
    """Resources the shared items point at (a medication's Medication), so the bundle resolves them."""
    wanted: dict[str, set[str]] = {}
    for reference in references:
        kind, _, rid = reference.partition("/")
        if kind == "Medication" and rid:
            wanted.setdefault(kind, set()).add(rid)
    found: list[Resource] = []
    for kind, ids in wanted.items():
        found.extend(resources_for(user=user).filter(resource_type=kind, resource_id__in=list(ids)[:2000]))
    return found


def patient_resource_for(*, user: User) -> dict | None:
    """The newest Patient resource the networks sent about the person, if any."""
    row = resources_for(user=user).filter(resource_type="Patient").order_by("-updated_at", "-id").first()
    return row.raw if row is not None and isinstance(row.raw, dict) else None


def shares_for(*, user: User) -> QuerySet[Share]:
    """The person's shares, newest first, each with its openings."""
    return Share.objects.filter(user=user).prefetch_related(
        Prefetch("openings", queryset=ShareOpening.objects.order_by("-at", "-id"))
    )


def share_get(*, user: User, pk: int) -> Share:
    """One share of this person; anyone else's is a 404."""
    return get_object_or_404(Share, pk=pk, user=user)
