"""'What is this?': plain-language explanations of a coded item, from MedlinePlus Connect.

Each (code system, code, language) is asked once and kept (MEDLINEPLUS_CACHE_DAYS); every process
shares one rolling-minute budget kept in the database, so Homeport as a whole stays under
MedlinePlus's published limit; staff can switch the feature off in the admin. Failures are not kept:
the next visit asks again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from records import fhir, medlineplus
from records.models import Explanation, ExplanationSetting, Resource

STATE_FOUND = "found"
STATE_NONE = "none"
STATE_UNAVAILABLE = "unavailable"
STATE_OFF = "off"
_ENABLED_CACHE_KEY = "records:explanations-enabled"
_CVX = "http://hl7.org/fhir/sid/cvx"
# MedlinePlus Connect has no vaccine (CVX) codes; its immunization topic is the honest answer.
VACCINE_TOPIC = {
    "en": medlineplus.Topic("Immunization", "https://medlineplus.gov/immunization.html", ""),
    "es": medlineplus.Topic("Inmunización", "https://medlineplus.gov/spanish/immunization.html", ""),
}
# Which code an item is explained by: the systems MedlinePlus Connect knows, best first per type.
_PREFERRED = {
    "Condition": (medlineplus.ICD10CM, medlineplus.SNOMED),
    "Observation": (medlineplus.LOINC,),
    "DiagnosticReport": (medlineplus.LOINC,),
    "MedicationRequest": (medlineplus.RXNORM, medlineplus.NDC),
    "MedicationStatement": (medlineplus.RXNORM, medlineplus.NDC),
    "MedicationDispense": (medlineplus.RXNORM, medlineplus.NDC),
    "MedicationAdministration": (medlineplus.RXNORM, medlineplus.NDC),
    "Procedure": (medlineplus.SNOMED,),
    "Immunization": (_CVX,),
}


@dataclass(frozen=True)
class Result:
    state: str
    topics: list[medlineplus.Topic] = field(default_factory=list)


def explainable_code(resource: dict[str, Any], *, resolve: fhir.Resolver | None = None) -> tuple[str, str] | None:
    """The (system, code) an item is explained by, or None when it has no code MedlinePlus knows."""
    kind = resource.get("resourceType")
    systems = _PREFERRED.get(kind if isinstance(kind, str) else "")
    if not systems:
        return None
    if kind == "Immunization":
        concept = resource.get("vaccineCode")
    elif kind in ("MedicationRequest", "MedicationStatement", "MedicationDispense", "MedicationAdministration"):
        system, code = fhir.medication_code(resource, resolve=resolve)
        return (system, code) if system in systems and code else None
    else:
        concept = resource.get("code")
    codes = fhir.concept_codes(concept)
    for system in systems:
        for found_system, code in sorted(codes):
            if found_system == system and code:
                return system, code
    return None


def explainable_code_for(resource: Resource) -> tuple[str, str] | None:
    """The code a stored item is explained by: from its JSON, else the code the ingest extracted
    (which already followed a medication reference)."""
    raw = resource.raw if isinstance(resource.raw, dict) else {}
    found = explainable_code(raw)
    if found is None and resource.code and resource.code_system in _PREFERRED.get(resource.resource_type, ()):
        found = (resource.code_system, resource.code)
    return found


def explanations_enabled() -> bool:
    enabled = cache.get(_ENABLED_CACHE_KEY)
    if enabled is None:
        enabled = ExplanationSetting.objects.filter(pk=1).values_list("enabled", flat=True).first()
        enabled = True if enabled is None else enabled
        cache.set(_ENABLED_CACHE_KEY, enabled, 60)
    return bool(enabled)


def explanation_setting_save(*, enabled: bool) -> ExplanationSetting:
    setting, _ = ExplanationSetting.objects.update_or_create(pk=1, defaults={"enabled": enabled})
    cache.delete(_ENABLED_CACHE_KEY)
    return setting


def _request_slot_take() -> bool:
    """One request from the shared rolling-minute budget, or False when it is spent."""
    now = time.time()
    with transaction.atomic():
        setting, _ = ExplanationSetting.objects.select_for_update().get_or_create(pk=1)
        recent = [at for at in setting.recent_calls if isinstance(at, int | float) and now - at < 60]
        if len(recent) >= settings.MEDLINEPLUS_REQUESTS_PER_MINUTE:
            return False
        setting.recent_calls = [*recent, now]
        setting.save(update_fields=["recent_calls"])
    return True


def explanation_get(*, system: str, code: str, language: str, transport: Any = None) -> Result:
    """The topics for one code in one language: kept, or asked for now (within the budget)."""
    language = language if language in medlineplus.LANGUAGES else "en"
    if not explanations_enabled():
        return Result(STATE_OFF)
    if system == _CVX:
        return Result(STATE_FOUND, [VACCINE_TOPIC[language]])
    if not medlineplus.supported(system):
        return Result(STATE_NONE)
    fresh_after = timezone.now() - timedelta(days=settings.MEDLINEPLUS_CACHE_DAYS)
    kept = Explanation.objects.filter(
        code_system=system, code=code, language=language, fetched_at__gte=fresh_after
    ).first()
    if kept is not None:
        topics = [medlineplus.Topic(**topic) for topic in kept.topics]
        return Result(STATE_FOUND if topics else STATE_NONE, topics)
    if not _request_slot_take():
        return Result(STATE_UNAVAILABLE)
    try:
        topics = medlineplus.topics_fetch(system=system, code=code, language=language, transport=transport)
    except medlineplus.Unavailable:
        return Result(STATE_UNAVAILABLE)
    Explanation.objects.update_or_create(
        code_system=system,
        code=code,
        language=language,
        defaults={
            "topics": [{"title": t.title, "url": t.url, "summary_html": t.summary_html} for t in topics],
            "fetched_at": timezone.now(),
        },
    )
    return Result(STATE_FOUND if topics else STATE_NONE, topics)
