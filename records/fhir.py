"""Pure helpers that turn FHIR R4 JSON into what a person reads.

Every function accepts anything (bundles come from outside and may be malformed) and never raises:
wrong shapes degrade to "nothing to show". The rules are those of /work/shared/fhir-display.md.
Nothing here marks a string safe; templates escape everything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import orjson
from django.conf import settings
from django.utils.translation import gettext_noop

from records import page_language, terminology
from records.page_language import gettext, pgettext  # Django's, each sentence translated once a page

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
EN_DASH = "\u2013"

PREFERRED_SYSTEMS = (LOINC, SNOMED, RXNORM, CVX, ICD10CM, ICD10)


def words_in_language(words: str) -> str:
    """Homeport's own English words in the active language; "" stays "" (gettext("") is the header)."""
    return gettext(words) if words else ""


SYSTEM_SHORT_NAMES = {
    LOINC: "LOINC",
    SNOMED: "SNOMED CT",
    RXNORM: "RxNorm",
    CVX: "CVX",
    ICD10CM: "ICD-10-CM",
    ICD10: "ICD-10",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "urn:oid:2.16.840.1.113883.6.88": "RxNorm",
    "urn:oid:2.16.840.1.113883.6.1": "LOINC",
    "urn:oid:2.16.840.1.113883.6.96": "SNOMED CT",
    "urn:oid:2.16.840.1.113883.12.292": "CVX",
    "urn:oid:2.16.840.1.113883.6.90": "ICD-10-CM",
}

# Resolves a reference string ("Organization/1", "urn:uuid:..") to a resource dict or None.
Resolver = Callable[[str], "dict | None"]


def _str(value: Any) -> str:
    """A stripped string, or "" for anything that is not a non-blank string."""
    if isinstance(value, str):
        return value.strip()
    return ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _number(value: Any) -> float | None:
    """A finite float from a JSON number (never from bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------- names


def system_short_name(system: Any) -> str:
    system = _str(system)
    if not system:
        return ""
    if system in SYSTEM_SHORT_NAMES:
        return SYSTEM_SHORT_NAMES[system]
    tail = system.rstrip("/").rsplit("/", 1)[-1]
    return tail[:40]


_PREFERRED_RANK = {system: rank for rank, system in enumerate(PREFERRED_SYSTEMS)}


def _system_rank(system: Any) -> int:
    return _PREFERRED_RANK.get(terminology.canonical_system(_str(system)), len(PREFERRED_SYSTEMS))


def _preferred_coding(codings: list[dict]) -> dict | None:
    """The first coded coding of the most preferred system present, in one pass over the codings."""
    best, best_rank = None, len(PREFERRED_SYSTEMS)
    for coding in codings:
        rank = _PREFERRED_RANK.get(_str(coding.get("system")), best_rank)
        if rank < best_rank and _str(coding.get("code")):
            best, best_rank = coding, rank
    return best


# Words converters write where a name is missing; they are not names.
_PLACEHOLDERS = {"n/a", "na", "null", "none", "undefined", "nullflavor", "unk", "noknownmanifestation"}


def _text(value: Any) -> str:
    """`_str`, with a converter's placeholder ("n/a") read as nothing."""
    text = _str(value)
    return "" if text.lower() in _PLACEHOLDERS else text


def concept_name(concept: Any) -> str:
    """The name of a CodeableConcept: text; preferred-system display; any display; the name Homeport's
    code tables know (terminology); the code with its system as the last resort."""
    concept = _dict(concept)
    text = _text(concept.get("text"))
    if text:
        return text
    codings = _dicts(concept.get("coding"))
    for system in PREFERRED_SYSTEMS:
        for coding in codings:
            if _str(coding.get("system")) == system and _text(coding.get("display")):
                return _text(coding.get("display"))
    for coding in codings:
        if _text(coding.get("display")):
            return _text(coding.get("display"))
    for coding in sorted(codings, key=lambda c: _system_rank(c.get("system"))):
        known = terminology.code_name(_str(coding.get("system")), _str(coding.get("code")))
        if known:
            return known
    for coding in codings:
        code = _str(coding.get("code"))
        if code:
            short = system_short_name(coding.get("system"))
            return f"{short} {code}" if short else code
    return ""


def concept_code(concept: Any) -> tuple[str, str]:
    """(system, code) of the coding to index and group on: a preferred system first, else the first coded."""
    codings = _dicts(_dict(concept).get("coding"))
    coding = _preferred_coding(codings)
    if coding is None:
        coding = next((c for c in codings if _str(c.get("code"))), None)
    if coding is None:
        return "", ""
    return _str(coding.get("system")), _str(coding.get("code"))


def concept_codes(concept: Any) -> set[tuple[str, str]]:
    codes = set()
    for coding in _dicts(_dict(concept).get("coding")):
        code = _str(coding.get("code"))
        if code:
            codes.add((_str(coding.get("system")), code))
    return codes


def first_concept(value: Any) -> dict:
    """The first CodeableConcept of a list-or-single field (category, type, ...)."""
    if isinstance(value, dict):
        return value
    return next(iter(_dicts(value)), {})


def _resolve_reference(ref: Any, *, resource: dict | None, resolve: Resolver | None) -> dict | None:
    """A referenced resource: contained ("#id") first, then the bundle through `resolve`."""
    target = _str(_dict(ref).get("reference"))
    if not target:
        return None
    if target.startswith("#") and resource is not None:
        wanted = target[1:]
        for contained in _dicts(resource.get("contained")):
            if _str(contained.get("id")) == wanted:
                return contained
        return None
    if resolve is None:
        return None
    try:
        found = resolve(target)
    except Exception:  # a resolver must never break a page
        return None
    return found if isinstance(found, dict) else None


def medication_name(resource: Any, *, resolve: Resolver | None = None) -> str:
    """Name of the medication of a MedicationRequest/Statement/Administration/Dispense."""
    resource = _dict(resource)
    name = concept_name(resource.get("medicationCodeableConcept"))
    if name:
        return name
    ref = _dict(resource.get("medicationReference"))
    medication = _resolve_reference(ref, resource=resource, resolve=resolve)
    if medication is not None:
        name = concept_name(medication.get("code"))
        if name:
            return name
    return _str(ref.get("display"))


def medication_code(resource: Any, *, resolve: Resolver | None = None) -> tuple[str, str]:
    resource = _dict(resource)
    code = concept_code(resource.get("medicationCodeableConcept"))
    if code[1]:
        return code
    medication = _resolve_reference(resource.get("medicationReference"), resource=resource, resolve=resolve)
    return concept_code(_dict(medication).get("code"))


def human_name(value: Any) -> str:
    """A person's name from a HumanName list (official or usual first)."""
    names = _dicts(value)
    if not names:
        return ""
    names.sort(key=lambda n: {"official": 0, "usual": 1}.get(_str(n.get("use")), 2))
    name = names[0]
    text = _str(name.get("text"))
    if text:
        return text
    given = " ".join(_str(g) for g in _list(name.get("given")) if _str(g))
    parts = [
        p
        for p in (" ".join(_str(p) for p in _list(name.get("prefix")) if _str(p)), given, _str(name.get("family")))
        if p
    ]
    return " ".join(parts)


def resource_label(resource: Any) -> str:
    """The plain name of an Organization, Practitioner, Patient, Location, Device or similar."""
    resource = _dict(resource)
    name = resource.get("name")
    if isinstance(name, str):
        return _str(name)
    if isinstance(name, list):
        label = human_name(name)
        if label:
            return label
    for key in ("deviceName",):
        for item in _dicts(resource.get(key)):
            if _str(item.get("name")):
                return _str(item.get("name"))
    return ""


def reference_label(ref: Any, *, resource: dict | None = None, resolve: Resolver | None = None) -> str:
    """Name for a Reference: the resolved resource's name, else the reference's display."""
    ref = _dict(ref)
    target = _resolve_reference(ref, resource=resource, resolve=resolve)
    if target is not None:
        label = resource_label(target)
        if not label and _str(target.get("resourceType")) == "PractitionerRole":
            label = reference_label(target.get("organization"), resolve=resolve) or reference_label(
                target.get("practitioner"), resolve=resolve
            )
        if label:
            return label
    return _str(ref.get("display"))


# ---------------------------------------------------------------- dates

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?)?$"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SPANISH_MONTHS = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic")


def _in_spanish() -> bool:
    return page_language.in_spanish()


def _day_month_year(day: int | None, month: int, year: int | str, *, spanish: bool | None = None) -> str:
    """ "Mar 14, 2019" in English, "14 mar 2019" in Spanish; without a day, "Mar 2019" / "mar 2019"."""
    if _in_spanish() if spanish is None else spanish:
        words = _SPANISH_MONTHS[month - 1]
        return f"{day} {words} {year}" if day else f"{words} {year}"
    words = _MONTHS[month - 1]
    return f"{words} {day}, {year}" if day else f"{words} {year}"


@dataclass(frozen=True)
class FhirDate:
    """A FHIR date as given (`text`, `precision` year|month|day|time) plus a UTC sort key."""

    text: str
    precision: str
    sort_key: datetime

    @property
    def display(self) -> str:
        return format_fhir_date(self.text)


_PARSED_DATES: dict[str, FhirDate | None] = {}
_PARSED_DATES_MAX = 20_000
_OFFSETS: dict[int, timezone] = {}


def parse_fhir_date(value: Any) -> FhirDate | None:
    """Parse a FHIR date/dateTime/instant; partial dates keep their precision; bad input is None.

    Results are immutable and a bundle repeats the same few thousand dates, so they are memoised.
    """
    text = _str(value)
    if not text:
        return None
    if len(text) > 40:
        return _parse_fhir_date(text)
    try:
        return _PARSED_DATES[text]
    except KeyError:
        pass
    parsed = _parse_fhir_date(text)
    if len(_PARSED_DATES) >= _PARSED_DATES_MAX:
        _PARSED_DATES.clear()
    _PARSED_DATES[text] = parsed
    return parsed


def _parse_fhir_date(text: str) -> FhirDate | None:
    match = _DATE_RE.match(text)
    if match is None:
        return None
    year = int(match["y"])
    month = int(match["m"] or 1)
    day = int(match["d"] or 1)
    hour, minute, second = int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0)
    tz = UTC
    if match["tz"] and match["tz"] != "Z":
        raw = match["tz"].replace(":", "")
        offset = int(raw[1:3]) * 60 + int(raw[3:5])
        if offset >= 24 * 60:
            return None
        minutes = offset if raw[0] == "+" else -offset
        tz = _OFFSETS.get(minutes) or _OFFSETS.setdefault(minutes, timezone(timedelta(minutes=minutes)))
    try:
        moment = datetime(max(year, 1), month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    precision = "time" if match["H"] else "day" if match["d"] else "month" if match["m"] else "year"
    return FhirDate(text=text, precision=precision, sort_key=moment)


def display_zone() -> tzinfo:
    """The zone times are shown in: the one activated for this request (the person's), else UTC."""
    return page_language.zone()


def clock_words(moment: datetime, *, spanish: bool | None = None) -> str:
    """ "5:30 PM" in English, "5:30 p. m." in US Spanish."""
    if _in_spanish() if spanish is None else spanish:
        return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'a. m.' if moment.hour < 12 else 'p. m.'}"
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def format_instant(moment: datetime, *, zone: tzinfo | None = None) -> str:
    """An aware moment in the one format every page uses: "Aug 15, 2012, 5:00 AM EDT"."""
    local = moment.astimezone(zone or display_zone())
    label = local.tzname() or "UTC"
    spanish = _in_spanish()
    day = _day_month_year(local.day, local.month, local.year, spanish=spanish)
    return f"{day}, {clock_words(local, spanish=spanish)} {label}"


def format_fhir_date(value: Any, *, zone: tzinfo | None = None) -> str:
    """A FHIR date in words, in the one format every page uses.

    Partial dates are shown as given, never padded ("2019", "Mar 2019"); a date without a time
    shows no time and never moves a day ("Mar 14, 2019"); a time with a zone is shown in the
    person's zone ("Aug 15, 2012, 5:00 AM EDT"); a time without a zone is shown as given.
    A page's results share a few dates, each put in words once for the page.
    """
    text = _str(value)
    shown = page_language.remembered("fhir dates in words") if zone is None else None
    if shown is None:
        return _fhir_date_words(text, zone=zone)
    words = shown.get(text)
    if words is None:
        words = shown[text] = _fhir_date_words(text, zone=None)
    return words


def _fhir_date_words(text: str, *, zone: tzinfo | None) -> str:
    match = _DATE_RE.match(text) if text else None
    parsed = parse_fhir_date(text) if match is not None else None
    if match is None or parsed is None:
        return text[:40]
    year = match["y"]
    if not match["m"]:
        return year
    month = int(match["m"])
    if not match["d"]:
        return _day_month_year(None, month, year)
    day = int(match["d"])
    if not match["H"]:
        return _day_month_year(day, month, year)
    if match["tz"]:
        return format_instant(parsed.sort_key, zone=zone)
    hour, minute = int(match["H"]), int(match["M"])
    return f"{_day_month_year(day, month, year)}, {clock_words(datetime(2000, 1, 1, hour % 24, minute))}"


def _period_start(value: Any) -> str:
    value = _dict(value)
    return _str(value.get("start")) or _str(value.get("end"))


def _choice_date(resource: dict, prefix: str) -> str:
    """The date text of a `<prefix>[x]` choice element (DateTime, Period, Instant, Timing, String)."""
    for suffix in ("DateTime", "Instant", "Date"):
        text = _str(resource.get(prefix + suffix))
        if text:
            return text
    text = _period_start(resource.get(prefix + "Period"))
    if text:
        return text
    for event in _list(_dict(resource.get(prefix + "Timing")).get("event")):
        if _str(event):
            return _str(event)
    return ""


# resource type -> ordered list of ("choice", prefix) or ("field", name) or ("period", name)
_DATE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "Observation": (("choice", "effective"), ("field", "issued")),
    "DiagnosticReport": (("choice", "effective"), ("field", "issued")),
    "Condition": (("choice", "onset"), ("field", "recordedDate")),
    "AllergyIntolerance": (("choice", "onset"), ("field", "recordedDate")),
    "Procedure": (("choice", "performed"),),
    "Immunization": (("choice", "occurrence"), ("field", "recorded")),
    "MedicationRequest": (("field", "authoredOn"),),
    "MedicationStatement": (("choice", "effective"), ("field", "dateAsserted")),
    "MedicationAdministration": (("choice", "effective"),),
    "MedicationDispense": (("field", "whenHandedOver"), ("field", "whenPrepared")),
    "Encounter": (("period", "period"),),
    "DocumentReference": (("field", "date"), ("context_period", "context")),
    "CarePlan": (("period", "period"), ("field", "created")),
    "Goal": (("choice", "start"),),
    "Composition": (("field", "date"),),
    "ServiceRequest": (("choice", "occurrence"), ("field", "authoredOn")),
    "FamilyMemberHistory": (("field", "date"),),
    "Coverage": (("period", "period"),),
}


def clinical_date(resource: Any) -> FhirDate | None:
    """The clinical date of a resource per its type (never meta.lastUpdated nor the download time)."""
    resource = _dict(resource)
    rules = _DATE_RULES.get(_str(resource.get("resourceType")), ())
    for kind, name in rules:
        if kind == "choice":
            text = _choice_date(resource, name)
        elif kind == "field":
            text = _str(resource.get(name))
        elif kind == "period":
            text = _period_start(resource.get(name))
        else:
            text = _period_start(_dict(resource.get(name)).get("period"))
        parsed = parse_fhir_date(text)
        if parsed is not None:
            return parsed
    return None


# ---------------------------------------------------------------- quantities and values

# UCUM codes a person should not have to read (reviewed against the UCUM table of units).
_UCUM_WHOLE = {
    "Cel": "°C",
    "[degF]": "°F",
    "mm[Hg]": "mmHg",
    "1": "",
    "{beats}/min": "beats/min",
    "/min": "/min",
}
_UCUM_ATOMS = {
    "[lb_av]": "lb",
    "[oz_av]": "oz",
    "[in_i]": "in",
    "[ft_i]": "ft",
    "[degF]": "°F",
    "Cel": "°C",
    "mm[Hg]": "mmHg",
    "[iU]": "IU",
    "[IU]": "IU",
    "[HPF]": "HPF",
    "[LPF]": "LPF",
    "[pH]": "pH",
    "[ppm]": "ppm",
    "[drp]": "drops",
    "[arb'U]": "arb. units",
}
# Unit words a Spanish reader would not know in their English form; symbols (lb, mg, mmHg) stay.
_SPANISH_UNITS = {
    "in": "pulg",
    "ft": "pies",
    "beats/min": "latidos/min",
    "drops": "gotas",
    "arb. units": "unidades arb.",
    "IU": "UI",
}


def _unit_in_language(shown: str) -> str:
    return _SPANISH_UNITS.get(shown, shown) if _in_spanish() else shown


TIMES = "\u00d7"  # the multiplication sign, as in "10*9/L" shown for people
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_ANNOTATION = re.compile(r"\{([^{}]*)\}")
_POWER_OF_TEN = re.compile(r"(?:(?<=^)|(?<=[/(.]))10(?:\*|\^)(-?\d{1,2})")
_LAB_POWER = re.compile(r"^[xX]10E(\d{1,2})(?=/)")
_ATOM_POWER = re.compile(r"(?<![A-Za-z])(m|cm|mm|dm|km|s|h|ft|in)([23])(?![\d])")
_MICRO = re.compile(r"(?<![A-Za-z])u(?=(?:g|L|mol|IU|U|m|s|Eq)\b)")
_BRACKETED = re.compile(r"\[([^\]]*)\]")


def ucum_display(code: Any) -> str:
    """A UCUM unit (or unit text written like one) as a person reads it.

    `mL/min/{1.73_m2}` -> "mL/min/1.73 m²", `10*9/L` -> TIMES + "10⁹/L", `10*3/uL` -> TIMES + "10³/µL",
    `[lb_av]` -> "lb", `Cel` -> "°C". An annotation on its own (`{cells}/uL`) is kept as a word; one
    attached to a unit (`%{saturation}`) is dropped. Text that is not UCUM passes unchanged.
    """
    text = _str(code)[:64]
    if not text:
        return ""
    if text in _UCUM_WHOLE:
        return _unit_in_language(_UCUM_WHOLE[text])
    return _ucum_rendered(text, spanish=_in_spanish())


@lru_cache(maxsize=4096)
def _ucum_rendered(text: str, *, spanish: bool) -> str:
    """The rendering itself, per language: a record repeats a few dozen units tens of thousands of times."""
    for atom, shown in _UCUM_ATOMS.items():
        text = text.replace(atom, _SPANISH_UNITS.get(shown, shown) if spanish else shown)

    def annotation(match: re.Match) -> str:
        start = match.start()
        standalone = start == 0 or text[start - 1] in "/.("
        if not standalone:
            return ""
        words = match[1].replace("_", " ").strip()
        return _ATOM_POWER.sub(lambda m: m[1] + m[2].translate(_SUPERSCRIPTS), words)

    text = _ANNOTATION.sub(annotation, text)
    text = _LAB_POWER.sub(lambda m: TIMES + "10" + m[1].translate(_SUPERSCRIPTS), text)
    text = _POWER_OF_TEN.sub(lambda m: TIMES + "10" + m[1].translate(_SUPERSCRIPTS), text)
    text = _ATOM_POWER.sub(lambda m: m[1] + m[2].translate(_SUPERSCRIPTS), text)
    text = _MICRO.sub("µ", text)
    text = _BRACKETED.sub(lambda m: m[1].split("_", 1)[0], text)
    return text.replace("//", "/").strip() or ""


def format_number(value: float) -> str:
    """A number without a spurious ".0" or float noise (5.0 -> "5", 0.1+0.2 -> "0.3")."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.6g}"
    if "e" in text:
        return text
    return text


def unit_display(quantity: Any) -> str:
    """The unit a person reads: the data's own `unit` (or its UCUM code), rendered for people.

    A page repeats a few units hundreds of times (a trend's 500 results): each (unit, code) pair is
    rendered once for the page."""
    quantity = _dict(quantity)
    unit, code = quantity.get("unit"), quantity.get("code")
    if type(unit) not in _PLAIN or type(code) not in _PLAIN:
        return _unit_display(quantity)
    return page_language.once_per_page("fhir units", (unit, code), lambda: _unit_display(quantity))


_PLAIN = (str, type(None))


def _unit_display(quantity: dict) -> str:
    unit = _str(quantity.get("unit"))
    code = _str(quantity.get("code"))
    if unit and unit != code:
        return ucum_display(unit)
    return ucum_display(code or unit)


def unit_key(quantity: Any) -> str:
    """What decides "same unit": the UCUM code when coded in UCUM, else the unit text (case kept)."""
    quantity = _dict(quantity)
    code = _str(quantity.get("code"))
    if code and _str(quantity.get("system")) in ("", UCUM):
        return code
    return _str(quantity.get("unit")) or code


def _join_unit(number: str, unit: str) -> str:
    if not unit:
        return number
    if unit.startswith("/"):
        return f"{number}{unit}"
    if unit in ("%", "°C", "°F"):
        return f"{number}{unit}" if unit == "%" else f"{number} {unit}"
    return f"{number} {unit}"


def format_quantity(quantity: Any) -> str:
    quantity = _dict(quantity)
    number = _number(quantity.get("value"))
    if number is None:
        return ""
    comparator = _str(quantity.get("comparator"))
    if comparator not in ("<", "<=", ">=", ">"):
        comparator = ""
    text = _join_unit(format_number(number), unit_display(quantity))
    return f"{comparator} {text}".strip() if comparator else text


_NUMERIC_STRING = re.compile(r"^\s*(?P<cmp><=|>=|<|>)?\s*(?P<num>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>[^\d\s].*)?$")


@dataclass(frozen=True)
class Measure:
    """A numeric result: value, comparator, unit as shown and unit key."""

    value: float
    comparator: str = ""
    unit: str = ""
    unit_key: str = ""


def observation_measure(observation: Any, *, unit_shown: bool = True) -> Measure | None:
    """The numeric value of an Observation from valueQuantity, valueInteger or a numeric valueString.

    `unit_shown=False` leaves a quantity's `unit` (as a person reads it) empty: the ingest indexes only
    `unit_key`, and rendering the unit for people costs it more than the rest of the measure."""
    observation = _dict(observation)
    quantity = observation.get("valueQuantity")
    if isinstance(quantity, dict):
        number = _number(quantity.get("value"))
        if number is None:
            return None
        comparator = _str(quantity.get("comparator"))
        return Measure(
            value=number,
            comparator=comparator if comparator in ("<", "<=", ">=", ">") else "",
            unit=unit_display(quantity) if unit_shown else "",
            unit_key=unit_key(quantity),
        )
    number = _number(observation.get("valueInteger"))
    if number is not None:
        return Measure(value=number)
    match = _NUMERIC_STRING.match(_str(observation.get("valueString"))[:80])
    if match:
        number = _number(float(match["num"]))
        if number is not None:
            unit = _str(match["unit"])
            return Measure(value=number, comparator=match["cmp"] or "", unit=unit, unit_key=unit)
    return None


def measure_text(measure: Measure) -> str:
    """`format_quantity` of the `valueQuantity` that `observation_measure` read into `measure` (the
    same number, comparator and unit as shown), without reading the quantity again."""
    text = _join_unit(format_number(measure.value), measure.unit)
    return f"{measure.comparator} {text}".strip() if measure.comparator else text


def _format_range_value(value: Any) -> str:
    value = _dict(value)
    low, high = format_quantity(value.get("low")), format_quantity(value.get("high"))
    if low and high:
        return f"{low} {EN_DASH} {high}"
    if low:
        return f"≥ {low}"
    if high:
        return f"≤ {high}"
    return ""


def _format_ratio(value: Any) -> str:
    value = _dict(value)
    numerator = format_quantity(value.get("numerator"))
    denominator = format_quantity(value.get("denominator"))
    if numerator and denominator:
        return f"{numerator} / {denominator}"
    return numerator


def value_text(element: Any) -> str:
    """Display text of a `value[x]` on an Observation or one of its components."""
    element = _dict(element)
    if "valueQuantity" in element:
        return format_quantity(element.get("valueQuantity"))
    if "valueCodeableConcept" in element:
        return concept_name(element.get("valueCodeableConcept"))
    if "valueString" in element:
        return _str(element.get("valueString"))[:2000]
    if isinstance(element.get("valueBoolean"), bool):
        return gettext("Yes") if element["valueBoolean"] else gettext("No")
    if "valueInteger" in element:
        number = _number(element.get("valueInteger"))
        return format_number(number) if number is not None else ""
    if "valueRange" in element:
        return _format_range_value(element.get("valueRange"))
    if "valueRatio" in element:
        return _format_ratio(element.get("valueRatio"))
    for key in ("valueDateTime", "valueTime"):
        if key in element:
            return format_fhir_date(element.get(key))
    if "valuePeriod" in element:
        period = _dict(element.get("valuePeriod"))
        start, end = format_fhir_date(period.get("start")), format_fhir_date(period.get("end"))
        return f"{start} {EN_DASH} {end}" if start and end else start or end
    absent = concept_name(element.get("dataAbsentReason"))
    return f"Not available ({absent.lower()})" if absent else ""


# ---------------------------------------------------------------- vitals in the person's units

UNITS_US, UNITS_METRIC = "us", "metric"
# Exact conversion factors to the family's base unit (kg, cm), from the UCUM definitions.
_TO_KG = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237, "[oz_av]": 0.028349523125}
_TO_CM = {"cm": 1.0, "m": 100.0, "mm": 0.1, "[in_i]": 2.54, "[ft_i]": 30.48}
_TEMPERATURES = {"Cel", "[degF]"}
BODY_HEIGHT_LOINC = {"8302-2", "8306-3", "8308-9"}


def vital_unit_for(unit_key: str, *, units: str) -> str:
    """The UCUM unit a vital in `unit_key` is shown in for this preference ("" when not convertible)."""
    us = units == UNITS_US
    if unit_key in _TO_KG:
        return "[lb_av]" if us else "kg"
    if unit_key in _TO_CM:
        return "[in_i]" if us else "cm"
    if unit_key in _TEMPERATURES:
        return "[degF]" if us else "Cel"
    return ""


def vital_convert(value: float, unit_key: str, *, units: str) -> tuple[float, str] | None:
    """(value, unit) in the person's units, or None when no known factor applies (BMI, rates...)."""
    target = vital_unit_for(unit_key, units=units)
    if not target:
        return None
    if unit_key in _TO_KG:
        return value * _TO_KG[unit_key] / _TO_KG[target], target
    if unit_key in _TO_CM:
        return value * _TO_CM[unit_key] / _TO_CM[target], target
    celsius = value if unit_key == "Cel" else (value - 32) * 5 / 9
    return (celsius if target == "Cel" else celsius * 9 / 5 + 32), target


def vital_text(value: float, unit_key: str, *, code: str = "", comparator: str = "") -> str:
    """A converted vital as a person reads it: "154.3 lb", "5 ft 7 in", "98.6 °F", "172.7 cm"."""
    if unit_key == "[in_i]" and code in BODY_HEIGHT_LOINC and value >= 12:
        inches = round(value)
        text = f"{inches // 12} {_unit_in_language('ft')} {inches % 12} {_unit_in_language('in')}"
    else:
        text = _join_unit(format_number(round(value, 1)), ucum_display(unit_key))
    return f"{comparator} {text}" if comparator else text


def vital_value_text(observation: Any, *, units: str = "") -> str:
    """The value of a vital-sign Observation in the person's units; as given without a preference or
    when no known factor converts it."""
    observation = _dict(observation)
    measure = observation_measure(observation)
    if units and measure is not None and isinstance(observation.get("valueQuantity"), dict):
        converted = vital_convert(measure.value, measure.unit_key, units=units)
        if converted is not None:
            _system, code = concept_code(observation.get("code"))
            return vital_text(converted[0], converted[1], code=code, comparator=measure.comparator)
    return observation_value_text(observation)


BLOOD_PRESSURE_PANELS = {"85354-9", "55284-4", "35094-2"}
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"


def observation_value_text(observation: Any) -> str:
    """The value of an Observation, blood pressure as "120/80 mmHg", other component panels joined."""
    observation = _dict(observation)
    text = value_text(observation)
    if text:
        return text
    components = _dicts(observation.get("component"))
    if not components:
        return ""
    by_code = {}
    for component in components:
        for system, code in concept_codes(component.get("code")):
            if system in (LOINC, ""):
                by_code[code] = component
    systolic, diastolic = by_code.get(SYSTOLIC), by_code.get(DIASTOLIC)
    if systolic and diastolic:
        sq, dq = _dict(systolic.get("valueQuantity")), _dict(diastolic.get("valueQuantity"))
        s, d = _number(sq.get("value")), _number(dq.get("value"))
        if s is not None and d is not None:
            return _join_unit(f"{format_number(s)}/{format_number(d)}", unit_display(sq))
    parts = []
    for component in components[:20]:
        value = value_text(component)
        if value:
            name = concept_name(component.get("code"))
            parts.append(f"{name}: {value}" if name else value)
    return "; ".join(parts)


def blood_pressure_values(observation: Any) -> tuple[float | None, float | None]:
    """(systolic, diastolic) in mmHg of a BP panel's components or of a lone systolic/diastolic result."""
    observation = _dict(observation)
    codes = {code for system, code in concept_codes(observation.get("code")) if system in (LOINC, "")}
    values: dict[str, float | None] = {SYSTOLIC: None, DIASTOLIC: None}
    for wanted in (SYSTOLIC, DIASTOLIC):
        if wanted in codes:
            values[wanted] = _number(_dict(observation.get("valueQuantity")).get("value"))
    for component in _dicts(observation.get("component"))[:20]:
        for system, code in concept_codes(component.get("code")):
            if system in (LOINC, "") and code in values and values[code] is None:
                values[code] = _number(_dict(component.get("valueQuantity")).get("value"))
    return values[SYSTOLIC], values[DIASTOLIC]


# ---------------------------------------------------------------- reference ranges and flags

_TEXT_RANGE = re.compile(
    r"^\s*(?:(?P<lo>[-+]?\d+(?:\.\d+)?)\s*(?:-|\u2013|\u2014|to)\s*(?P<hi>[-+]?\d+(?:\.\d+)?)"
    r"|(?P<cmp><=|>=|<|>|≤|≥)\s*(?P<num>[-+]?\d+(?:\.\d+)?))\s*(?P<unit>[^\d\s].*?)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReferenceRange:
    """One reference range: numeric bounds (inclusive unless a comparator says otherwise), unit, labels."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    unit_key: str = ""
    unit: str = ""
    text: str = ""
    kind: str = ""
    applies_to: tuple[str, ...] = ()
    age_low: float | None = None
    age_high: float | None = None

    @property
    def numeric(self) -> bool:
        return self.low is not None or self.high is not None

    @property
    def is_normal(self) -> bool:
        return self.kind in ("", "normal")

    @property
    def label(self) -> str:
        """How the range reads: the bounds in the data's own unit, else its text."""
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            return f"{format_number(self.low)} {EN_DASH} {format_number(self.high)}{unit}"
        if self.low is not None:
            return f"{'≥' if self.low_inclusive else '>'} {format_number(self.low)}{unit}"
        if self.high is not None:
            return f"{'≤' if self.high_inclusive else '<'} {format_number(self.high)}{unit}"
        return self.text

    def contains_age(self, age_years: float | None) -> bool:
        if self.age_low is None and self.age_high is None:
            return True
        if age_years is None:
            return False
        return (self.age_low is None or age_years >= self.age_low) and (
            self.age_high is None or age_years <= self.age_high
        )


def _age_years(quantity: Any) -> float | None:
    quantity = _dict(quantity)
    number = _number(quantity.get("value"))
    if number is None:
        return None
    factor = {"a": 1, "mo": 1 / 12, "wk": 1 / 52.1775, "d": 1 / 365.25}.get(_str(quantity.get("code")) or "a")
    return None if factor is None else number * factor


def parse_text_range(text: Any) -> ReferenceRange | None:
    """Parse "3.5-5.0", "3.5 - 5.0 mmol/L", "<5", ">= 60 mL/min" into numeric bounds."""
    text = _str(text)[:120]
    match = _TEXT_RANGE.match(text)
    if match is None:
        return None
    unit = _str(match["unit"])
    if match["lo"] is not None:
        low, high = float(match["lo"]), float(match["hi"])
        if low > high:
            return None
        return ReferenceRange(low=low, high=high, unit=unit, unit_key=unit, text=text)
    cmp, number = match["cmp"], float(match["num"])
    if cmp in ("<", "<=", "≤"):
        return ReferenceRange(high=number, high_inclusive=cmp != "<", unit=unit, unit_key=unit, text=text)
    return ReferenceRange(low=number, low_inclusive=cmp != ">", unit=unit, unit_key=unit, text=text)


def reference_ranges(observation: Any, *, unit_shown: bool = True) -> list[ReferenceRange]:
    """Every referenceRange of an Observation, numeric where the data allows; `unit_shown=False`
    leaves a quantity bound's `unit` empty (computing a flag reads only `unit_key`).

    A page's results of one test repeat the same ranges (a trend draws 500), read once for the page."""
    given = _dict(observation).get("referenceRange")
    read = page_language.remembered("fhir reference ranges") if given and unit_shown else None
    if read is None:
        return _reference_ranges(given, unit_shown=unit_shown)
    try:
        key = orjson.dumps(given)
    except orjson.JSONEncodeError:
        return _reference_ranges(given, unit_shown=unit_shown)
    found = read.get(key)
    if found is None:
        found = read[key] = _reference_ranges(given, unit_shown=unit_shown)
    return list(found)


def _reference_ranges(given: Any, *, unit_shown: bool) -> list[ReferenceRange]:
    ranges = []
    for item in _dicts(given)[:20]:
        low_q, high_q = _dict(item.get("low")), _dict(item.get("high"))
        low, high = _number(low_q.get("value")), _number(high_q.get("value"))
        text = _str(item.get("text"))[:200]
        kind = _str(concept_code(item.get("type"))[1]) or _str(concept_name(item.get("type"))).lower()
        applies_to = tuple(sorted({concept_name(c).lower() for c in _dicts(item.get("appliesTo")) if concept_name(c)}))
        age = _dict(item.get("age"))
        age_low, age_high = _age_years(age.get("low")), _age_years(age.get("high"))
        if low is not None or high is not None:
            if low is not None and high is not None and low > high:
                ranges.append(
                    ReferenceRange(text=text, kind=kind, applies_to=applies_to, age_low=age_low, age_high=age_high)
                )
                continue
            quantity = low_q if low is not None else high_q
            ranges.append(
                ReferenceRange(
                    low=low,
                    high=high,
                    unit_key=unit_key(quantity),
                    unit=unit_display(quantity) if unit_shown else "",
                    text=text,
                    kind=kind,
                    applies_to=applies_to,
                    age_low=age_low,
                    age_high=age_high,
                )
            )
            continue
        parsed = parse_text_range(text)
        if parsed is not None:
            ranges.append(
                ReferenceRange(
                    low=parsed.low,
                    high=parsed.high,
                    low_inclusive=parsed.low_inclusive,
                    high_inclusive=parsed.high_inclusive,
                    unit_key=parsed.unit_key,
                    unit=parsed.unit,
                    text=text,
                    kind=kind,
                    applies_to=applies_to,
                    age_low=age_low,
                    age_high=age_high,
                )
            )
        elif text:
            ranges.append(
                ReferenceRange(text=text, kind=kind, applies_to=applies_to, age_low=age_low, age_high=age_high)
            )
    return ranges


def applicable_range(
    ranges: Iterable[ReferenceRange], *, sex: str = "", age_years: float | None = None
) -> ReferenceRange | None:
    """The one normal range that applies to this person, or None when none or several would.

    A range limited by `appliesTo` applies only when the person's sex is known and named in it;
    a range limited by age only when the age is known and inside it. Ambiguity gives no range,
    because a computed flag must never guess.
    """
    sex = sex.lower()
    candidates = []
    for item in ranges:
        if not item.is_normal:
            continue
        if item.applies_to and (not sex or not any(sex in label.split() for label in item.applies_to)):
            continue
        if not item.contains_age(age_years):
            continue
        candidates.append(item)
    numeric = [c for c in candidates if c.numeric]
    if len(numeric) == 1:
        return numeric[0]
    if len(numeric) > 1:
        specific = [c for c in numeric if c.applies_to or c.age_low is not None or c.age_high is not None]
        if len(specific) == 1:
            return specific[0]
        return None
    return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True)
class Flag:
    """An abnormal-result flag: code (H, L, HH, LL, A, AA, N), words, badge tone, and whether computed."""

    code: str
    label: str
    tone: str
    computed: bool = False

    @property
    def abnormal(self) -> bool:
        return self.code != "N"


FLAG_LABELS = {
    "H": (gettext_noop("High"), "warn"),
    "L": (gettext_noop("Low"), "warn"),
    "HH": (gettext_noop("Critically high"), "bad"),
    "LL": (gettext_noop("Critically low"), "bad"),
    "HU": (gettext_noop("Very high"), "bad"),
    "LU": (gettext_noop("Very low"), "bad"),
    "A": (gettext_noop("Abnormal"), "warn"),
    "AA": (gettext_noop("Critically abnormal"), "bad"),
    "N": (gettext_noop("Normal"), "ok"),
    ">": (gettext_noop("Above measurable range"), "warn"),
    "<": (gettext_noop("Below measurable range"), "warn"),
    "POS": (gettext_noop("Positive"), "warn"),
    "DET": (gettext_noop("Detected"), "warn"),
    "R": (gettext_noop("Resistant"), "warn"),
}
_FLAG_WORDS = {
    "high": "H",
    "low": "L",
    "critical high": "HH",
    "critically high": "HH",
    "critical low": "LL",
    "critically low": "LL",
    "abnormal": "A",
    "critical": "AA",
    "critically abnormal": "AA",
    "panic": "AA",
    "normal": "N",
    "positive": "POS",
    "detected": "DET",
}


def _flag_code_from_concept(concept: dict) -> str:
    for coding in _dicts(concept.get("coding")):
        upper = _str(coding.get("code")).upper()
        if upper in FLAG_LABELS:
            return upper
    words = (
        (
            _str(concept.get("text"))
            or next((_str(c.get("display")) for c in _dicts(concept.get("coding")) if _str(c.get("display"))), "")
        )
        .lower()
        .strip(" .")
    )
    word_code = _FLAG_WORDS.get(words)
    if word_code is None and "critical" in words:
        word_code = "AA"
    return word_code or ""


_TONE_ORDER = {"bad": 0, "warn": 1, "ok": 2}


def _interpretation(
    observation: dict, *, sex: str, age_years: float | None, measure: Measure | None
) -> tuple[str, bool] | None:
    """(flag code, computed) of a result, in no language (see `interpretation_flag`)."""
    codes = [code for code in (_flag_code_from_concept(c) for c in _dicts(observation.get("interpretation"))) if code]
    if not codes and isinstance(observation.get("interpretation"), dict):
        code = _flag_code_from_concept(observation["interpretation"])
        codes = [code] if code else []
    if codes:
        return min(codes, key=lambda code: _TONE_ORDER[FLAG_LABELS[code][1]]), False
    if measure is None:
        measure = observation_measure(observation, unit_shown=False)
    if measure is None:
        return None
    chosen = applicable_range(reference_ranges(observation, unit_shown=False), sex=sex, age_years=age_years)
    if chosen is None or not chosen.numeric or chosen.unit_key != measure.unit_key:
        return None
    value = measure.value
    below = chosen.low is not None and (value < chosen.low or (value == chosen.low and not chosen.low_inclusive))
    above = chosen.high is not None and (value > chosen.high or (value == chosen.high and not chosen.high_inclusive))
    at_most = measure.comparator in ("<", "<=")
    at_least = measure.comparator in (">", ">=")
    # "<0.5" is at most 0.5: it can be proven low, or normal against an upper bound only; ">" mirrors it.
    if below and not at_least:
        return "L", True
    if above and not at_most:
        return "H", True
    if (at_most and (above or chosen.low is not None)) or (at_least and (below or chosen.high is not None)):
        return None
    return "N", True


def interpretation_flag(observation: Any, *, sex: str = "", age_years: float | None = None) -> Flag | None:
    """The flag of a result: its own `interpretation` first; else computed from the one applicable
    numeric range, only when the value's unit and the range's unit are the same (or both absent)."""
    found = _interpretation(_dict(observation), sex=sex, age_years=age_years, measure=None)
    if found is None:
        return None
    code, computed = found
    label, tone = FLAG_LABELS[code]
    return Flag(code=code, label=gettext(label), tone=tone, computed=computed)


def interpretation_code(
    observation: Any, *, sex: str = "", age_years: float | None = None, measure: Measure | None = None
) -> str:
    """The code of `interpretation_flag` alone ("" for none), what the ingest stores: no words are
    translated for it. `measure` is the observation's own when the caller has it already."""
    found = _interpretation(_dict(observation), sex=sex, age_years=age_years, measure=measure)
    return found[0] if found else ""


# ---------------------------------------------------------------- statuses

_STATUS_WORDS = {
    "active": gettext_noop("Active"),
    "recurrence": gettext_noop("Recurred"),
    "relapse": gettext_noop("Relapsed"),
    "inactive": gettext_noop("Inactive"),
    "remission": gettext_noop("In remission"),
    "resolved": gettext_noop("Resolved"),
    "unconfirmed": gettext_noop("Unconfirmed"),
    "provisional": gettext_noop("Provisional"),
    "differential": gettext_noop("Possible"),
    "confirmed": gettext_noop("Confirmed"),
    "refuted": gettext_noop("Ruled out"),
    "entered-in-error": gettext_noop("Entered in error"),
    "registered": gettext_noop("Ordered"),
    "preliminary": gettext_noop("Preliminary"),
    "final": gettext_noop("Final"),
    "amended": gettext_noop("Amended"),
    "corrected": gettext_noop("Corrected"),
    "appended": gettext_noop("Appended"),
    "partial": gettext_noop("Partial"),
    "cancelled": gettext_noop("Cancelled"),
    "unknown": gettext_noop("Status unknown"),
    "on-hold": gettext_noop("On hold"),
    "completed": gettext_noop("Completed"),
    "stopped": gettext_noop("Stopped"),
    "draft": gettext_noop("Draft"),
    "intended": gettext_noop("Planned"),
    "not-taken": gettext_noop("Not taken"),
    "not-done": gettext_noop("Not done"),
    "preparation": gettext_noop("Being prepared"),
    "in-progress": gettext_noop("In progress"),
    "planned": gettext_noop("Planned"),
    "arrived": gettext_noop("Arrived"),
    "triaged": gettext_noop("Triaged"),
    "onleave": gettext_noop("On leave"),
    "finished": gettext_noop("Finished"),
    "current": gettext_noop("Current"),
    "superseded": gettext_noop("Replaced by a newer version"),
    "proposed": gettext_noop("Proposed"),
    "accepted": gettext_noop("Accepted"),
    "rejected": gettext_noop("Rejected"),
    "revoked": gettext_noop("Revoked"),
}

_CLINICAL_STATUS_TYPES = {"Condition", "AllergyIntolerance"}
# Types whose status a person needs; a missing one is said, never read as "inactive".
_STATUS_NOT_GIVEN_TYPES = {
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationDispense",
}
STATUS_NOT_GIVEN = gettext_noop("Status not given")


def _verification_code(resource: dict) -> str:
    for coding in _dicts(_dict(resource.get("verificationStatus")).get("coding")):
        if _str(coding.get("code")):
            return _str(coding.get("code")).lower()
    return ""


def status_code(resource: Any) -> str:
    """The status to index: clinicalStatus for conditions and allergies, else `status`."""
    resource = _dict(resource)
    kind = _str(resource.get("resourceType"))
    if kind in _CLINICAL_STATUS_TYPES:
        verification = _verification_code(resource)
        if verification in ("refuted", "entered-in-error"):
            return verification
        code = concept_code(resource.get("clinicalStatus"))[1]
        if not code:
            code = _str(
                next(
                    (
                        c.get("code")
                        for c in _dicts(_dict(resource.get("clinicalStatus")).get("coding"))
                        if _str(c.get("code"))
                    ),
                    "",
                )
            )
        return code.lower()[:64]
    if kind == "Goal":
        return _str(resource.get("lifecycleStatus")).lower()[:64]
    return _str(resource.get("status")).lower()[:64]


def status_words(resource: Any) -> str:
    """The status in words ("Active", "Ruled out", "Completed"), with verification where it matters.

    Outside conditions, allergies and goals the words follow from the type and `status` alone, and a
    page's rows repeat a few of them: each pair is put in words once for the page."""
    resource = _dict(resource)
    kind = resource.get("resourceType")
    status = resource.get("status")
    if type(kind) is not str or type(status) is not str or _str(kind) in _CLINICAL_STATUS_TYPES or _str(kind) == "Goal":
        return _status_words(resource)
    return page_language.once_per_page("fhir status words", (kind, status), lambda: _status_words(resource))


def _status_words(resource: dict) -> str:
    code = status_code(resource)
    words = words_in_language(_STATUS_WORDS[code]) if code in _STATUS_WORDS else code.replace("-", " ").capitalize()
    if code == "active" and _str(resource.get("resourceType")) in _CLINICAL_STATUS_TYPES:
        words = pgettext("status of a condition or an allergy", "Active")  # Spanish agrees in gender
    if not code and _str(resource.get("resourceType")) in _STATUS_NOT_GIVEN_TYPES:
        words = gettext(STATUS_NOT_GIVEN)
    if _str(resource.get("resourceType")) == "FamilyMemberHistory":
        words = ""  # its status says whether the history was taken, nothing a person needs
    if _str(resource.get("resourceType")) in _CLINICAL_STATUS_TYPES:
        verification = _verification_code(resource)
        if verification != code and verification in ("unconfirmed", "provisional", "differential"):
            extra = gettext(_STATUS_WORDS[verification])
            words = f"{words} ({extra.lower()})" if words else extra
    return words


def is_entered_in_error(resource: Any) -> bool:
    resource = _dict(resource)
    if _str(resource.get("status")).lower() == "entered-in-error":
        return True
    return _verification_code(resource) == "entered-in-error"


def criticality_words(allergy: Any) -> str:
    words = {
        "high": gettext_noop("High risk"),
        "low": gettext_noop("Low risk"),
        "unable-to-assess": gettext_noop("Risk not assessed"),
    }.get(_str(_dict(allergy).get("criticality")).lower(), "")
    return words_in_language(words)


def allergy_reactions(allergy: Any) -> list[str]:
    names = []
    for reaction in _dicts(_dict(allergy).get("reaction"))[:10]:
        for manifestation in _dicts(reaction.get("manifestation"))[:10]:
            name = concept_name(manifestation)
            if name and name not in names:
                names.append(name)
    return names


def dosage_text(resource: Any) -> str:
    """Plain dosage instructions of a MedicationRequest/Statement."""
    resource = _dict(resource)
    for dosage in _dicts(resource.get("dosageInstruction")) + _dicts(resource.get("dosage")):
        text = _str(dosage.get("text")) or _str(dosage.get("patientInstruction"))
        if text:
            return text[:500]
    return ""


# ---------------------------------------------------------------- provenance


@dataclass(frozen=True)
class Source:
    """Who reported an item, and in what role; `name` is from the data, never invented."""

    role: str
    name: str


_ROLE_FIELDS = (
    ("asserter", gettext_noop("Asserted by")),
    ("recorder", gettext_noop("Recorded by")),
    ("requester", gettext_noop("Ordered by")),
    ("informationSource", gettext_noop("Reported by")),
    ("performer", gettext_noop("Performed by")),
    ("author", gettext_noop("Written by")),
)

NETWORK_SOURCE_WORDS = {
    "hie": gettext_noop("via health information exchange"),
    "pharmacy": gettext_noop("via pharmacy network"),
    "lab": gettext_noop("via lab network"),
    "consolidated": gettext_noop("via the network's consolidated record"),
}


def network_source_words(value: Any) -> str:
    value = _str(value).lower()
    base = value.split(".", 1)[0]
    if base in NETWORK_SOURCE_WORDS:
        return gettext(NETWORK_SOURCE_WORDS[base])
    return gettext("via %(network)s") % {"network": base} if base else ""


# Metriport's data-source extension names the exchange a document came through.
DATA_SOURCE_CODES = {
    "COMMONWELL": "hie",
    "CAREQUALITY": "hie",
    "SURESCRIPTS": "pharmacy",
    "QUEST": "lab",
    "LABCORP": "lab",
}


def resource_network_source(resource: Any) -> str:
    """The network source (hie, pharmacy, lab) the resource itself names, or "".

    Read from its own `meta.tag` network-source coding, else Metriport's data-source extension on
    the resource or on its document's content. Never from the webhook that delivered the bundle:
    every webhook links the whole consolidated record.
    """
    resource = _dict(resource)
    for tag in _dicts(_dict(resource.get("meta")).get("tag"))[:20]:
        if _str(tag.get("system")).rstrip("/").endswith("network-source"):
            code = _str(tag.get("code")).lower()
            if code in NETWORK_SOURCE_WORDS:
                return code
    extensions = _dicts(resource.get("extension"))[:20]
    for content in _dicts(resource.get("content"))[:10]:
        extensions += _dicts(content.get("extension"))[:10]
    for extension in extensions:
        if _str(extension.get("url")).endswith("/data-source.json"):
            code = _str(_dict(extension.get("valueCoding")).get("code")).upper()
            if code in DATA_SOURCE_CODES:
                return DATA_SOURCE_CODES[code]
    return ""


DOC_ID_EXTENSION_SUFFIX = "/doc-id-extension.json"


def document_key(value: Any) -> str:
    """A document's file name without folders, query or `.xml`/`.json` suffixes, for matching a
    converted resource's doc-id extension to the DocumentReference of its source document."""
    text = _str(value).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix in (".json", ".xml"):
        text = text.removesuffix(suffix)
    return text[:200]


def source_document_key(resource: Any) -> str:
    """The key of the document a converted resource was made from (Metriport's doc-id extension)."""
    for extension in _dicts(_dict(resource).get("extension"))[:20]:
        if _str(extension.get("url")).endswith(DOC_ID_EXTENSION_SUFFIX):
            return document_key(extension.get("valueString"))
    return ""


def document_keys(document: Any) -> set[str]:
    """Every key a DocumentReference may be named by: id, master identifier, attachment URLs and titles."""
    document = _dict(document)
    values = [document.get("id"), _dict(document.get("masterIdentifier")).get("value")]
    for content in _dicts(document.get("content"))[:10]:
        attachment = _dict(content.get("attachment"))
        values += [attachment.get("url"), attachment.get("title")]
    return {key for key in (document_key(v) for v in values) if key}


def _references(value: Any) -> list[dict]:
    """References in a field that may be a Reference, a list of them, or performer-like wrappers."""
    refs = []
    for item in [value] if isinstance(value, dict) else _dicts(value):
        if "reference" in item or "display" in item:
            refs.append(item)
        for key in ("actor", "who", "onBehalfOf"):
            if isinstance(item.get(key), dict):
                refs.append(item[key])
    return refs


def encounter_reference(resource: Any) -> dict:
    """The Reference to the encounter an item belongs to (`encounter`, or DocumentReference's context)."""
    resource = _dict(resource)
    ref = resource.get("encounter")
    if isinstance(ref, dict):
        return ref
    context = resource.get("context")
    if isinstance(context, dict):
        return next(iter(_references(context.get("encounter"))), {})
    return {}


def provenance_sources(
    resource: Any,
    *,
    resolve: Resolver | None = None,
    provenances: Iterable[dict] = (),
    network_source: str = "",
) -> list[Source]:
    """Every source of an item, in the documented order, without duplicates.

    "Delivered" only when the data names the network source: `network_source` as the ingest derived
    it from the resource and its document, else what the resource itself says.
    """
    resource = _dict(resource)
    sources: list[Source] = []
    seen: set[str] = set()

    def add(role: str, name: str) -> None:
        name = name[:200]
        if name and name.lower() not in seen:
            seen.add(name.lower())
            sources.append(Source(role=role, name=name))

    for key, role in _ROLE_FIELDS:
        for ref in _references(resource.get(key))[:10]:
            add(gettext(role), reference_label(ref, resource=resource, resolve=resolve))
    if _str(resource.get("resourceType")) == "Encounter":
        encounter = resource
    else:
        encounter = _resolve_reference(encounter_reference(resource), resource=resource, resolve=resolve)
    if encounter is not None:
        add(
            gettext("Care provided by"),
            reference_label(encounter.get("serviceProvider"), resource=encounter, resolve=resolve),
        )
    for provenance in provenances:
        for agent in _dicts(_dict(provenance).get("agent"))[:10]:
            for key in ("who", "onBehalfOf"):
                add(gettext("Source"), reference_label(agent.get(key), resource=provenance, resolve=resolve))
    if _str(resource.get("resourceType")) == "DocumentReference":
        add(gettext("Kept by"), reference_label(resource.get("custodian"), resource=resource, resolve=resolve))
    add(gettext("Source system"), meta_source_label(resource, resolve=resolve))
    words = network_source_words(network_source or resource_network_source(resource))
    if words:
        add(gettext("Delivered"), words)
    return sources


def organization_name(resource: Any, *, resolve: Resolver | None = None, provenances: Iterable[dict] = ()) -> str:
    """The organization an item came from, for the indexed `source_org` column.

    Looks at Organization references of the author-like fields (contained or in the bundle), the
    encounter's serviceProvider, extensions referencing an Organization, Provenance agents, then
    `meta.source`. Returns "" rather than guessing.
    """
    resource = _dict(resource)

    def org_of(ref: dict) -> str:
        target = _resolve_reference(ref, resource=resource, resolve=resolve)
        if target is not None:
            kind = _str(target.get("resourceType"))
            if kind == "Organization":
                return resource_label(target)
            if kind == "PractitionerRole":
                return reference_label(target.get("organization"), resolve=resolve)
            return ""
        if _str(ref.get("reference")).startswith("Organization/") or _str(ref.get("type")) == "Organization":
            return _str(ref.get("display"))
        return ""

    for key, _role in _ROLE_FIELDS:
        value = resource.get(key)
        if value is None:
            continue
        for ref in _references(value)[:10]:
            name = org_of(ref)
            if name:
                return name[:255]
    if _str(resource.get("resourceType")) == "Encounter":
        name = org_of(_dict(resource.get("serviceProvider")))
        if name:
            return name[:255]
    encounter_ref = encounter_reference(resource)
    if encounter_ref:
        encounter = _resolve_reference(encounter_ref, resource=resource, resolve=resolve)
        if encounter is not None:
            name = reference_label(encounter.get("serviceProvider"), resource=encounter, resolve=resolve)
            if name:
                return name[:255]
    for extension in _dicts(resource.get("extension"))[:20]:
        extension_ref = extension.get("valueReference")
        if isinstance(extension_ref, dict):
            name = org_of(extension_ref)
            if name:
                return name[:255]
    for provenance in provenances:
        for agent in _dicts(_dict(provenance).get("agent"))[:10]:
            for key in ("onBehalfOf", "who"):
                ref = _dict(agent.get(key))
                target = _resolve_reference(ref, resource=provenance, resolve=resolve)
                if target is not None and _str(target.get("resourceType")) == "Organization":
                    return resource_label(target)[:255]
                if _str(ref.get("reference")).startswith("Organization/") and _str(ref.get("display")):
                    return _str(ref.get("display"))[:255]
    for contained in _dicts(resource.get("contained"))[:20]:
        if _str(contained.get("resourceType")) == "Organization" and resource_label(contained):
            return resource_label(contained)[:255]
    if _str(resource.get("resourceType")) == "DocumentReference":  # the organization that keeps it
        name = org_of(_dict(resource.get("custodian")))
        if name:
            return name[:255]
    return meta_source_label(resource, resolve=resolve)[:255]


def meta_source_label(resource: Any, *, resolve: Resolver | None = None) -> str:
    """`meta.source` in words: an Organization it names is resolved to its name, a URI shown as is."""
    source = _str(_dict(_dict(resource).get("meta")).get("source"))
    if source.startswith("Organization/"):
        return reference_label({"reference": source}, resolve=resolve)
    return source


# ---------------------------------------------------------------- narrative


class _TextOnly(HTMLParser):
    _SKIP = {"script", "style", "head", "title", "iframe", "object", "noscript", "template"}
    _BREAK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("  ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def narrative_text(resource: Any, *, limit: int = 20000) -> str:
    """The narrative `text.div` reduced to plain text (markup and scripts dropped); escape on output."""
    div = _dict(_dict(resource).get("text")).get("div")
    if not isinstance(div, str) or not div.strip():
        return ""
    parser = _TextOnly()
    try:
        parser.feed(div[: limit * 4])
        parser.close()
    except Exception:  # malformed markup: show nothing rather than something half-parsed
        return ""
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line)
    return text[:limit]


# ---------------------------------------------------------------- categories

CATEGORY_LABELS = {
    "conditions": gettext_noop("Conditions"),
    "medications": gettext_noop("Medications"),
    "allergies": gettext_noop("Allergies"),
    "immunizations": gettext_noop("Immunizations"),
    "labs": gettext_noop("Lab results"),
    "vitals": gettext_noop("Vitals"),
    "procedures": gettext_noop("Procedures"),
    "encounters": gettext_noop("Visits"),
    "documents": gettext_noop("Documents"),
    "social": gettext_noop("Social history"),
    "family": gettext_noop("Family history"),
    "careplans": gettext_noop("Care plans and goals"),
    "coverage": gettext_noop("Insurance"),
    "devices": gettext_noop("Devices and implants"),
    "other": gettext_noop("Other records"),
}

_TYPE_CATEGORY = {
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "MedicationStatement": "medications",
    "MedicationAdministration": "medications",
    "MedicationDispense": "medications",
    "AllergyIntolerance": "allergies",
    "Immunization": "immunizations",
    "Procedure": "procedures",
    "Encounter": "encounters",
    "DocumentReference": "documents",
    "DiagnosticReport": "labs",
    "FamilyMemberHistory": "family",
    "CarePlan": "careplans",
    "Goal": "careplans",
    "ServiceRequest": "careplans",
    "Coverage": "coverage",
    "Device": "devices",
    "DeviceUseStatement": "devices",
}

_OBSERVATION_CATEGORY = {
    "laboratory": "labs",
    "vital-signs": "vitals",
    "social-history": "social",
    "survey": "other",
    "exam": "other",
    "imaging": "other",
    "procedure": "procedures",
    "activity": "other",
}

VITAL_LOINC = {
    "8310-5",
    "8867-4",
    "9279-1",
    "8480-6",
    "8462-4",
    "85354-9",
    "29463-7",
    "8302-2",
    "39156-5",
    "59408-5",
    "2708-6",
    "8287-5",
    "3141-9",
    "55284-4",
}


def observation_category_codes(resource: Any) -> set[str]:
    codes = set()
    for concept in _dicts(_dict(resource).get("category")):
        for coding in _dicts(concept.get("coding")):
            code = _str(coding.get("code")).lower()
            if code:
                codes.add(code)
    return codes


def category_of(resource: Any) -> str:
    """The record page a resource belongs on (labs, vitals, conditions, ...), or "other"."""
    resource = _dict(resource)
    kind = _str(resource.get("resourceType"))
    if kind == "Observation":
        codes = observation_category_codes(resource)
        for code in ("vital-signs", "laboratory", "social-history", "procedure"):
            if code in codes:
                return _OBSERVATION_CATEGORY[code]
        if any(code in VITAL_LOINC for _, code in concept_codes(resource.get("code"))):
            return "vitals"
        return "other" if codes else "labs"
    if kind == "DiagnosticReport":
        codes = observation_category_codes(resource)
        return "labs" if not codes or codes & {"lab", "laboratory", "ch", "hm", "mb"} else "documents"
    return _TYPE_CATEGORY.get(kind, "other")


@dataclass
class Display:
    """What a list row shows about a resource."""

    name: str = ""
    date: FhirDate | None = None
    status: str = ""
    value: str = ""
    flag: Flag | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    kind: str = ""
    dated: bool = True


# What a resource is, in words, for rows that carry no name of their own.
TYPE_WORDS = {
    "AllergyIntolerance": gettext_noop("Allergy"),
    "Condition": gettext_noop("Condition"),
    "Procedure": gettext_noop("Procedure"),
    "Observation": gettext_noop("Result or observation"),
    "DiagnosticReport": gettext_noop("Report"),
    "MedicationRequest": gettext_noop("Prescription"),
    "MedicationStatement": gettext_noop("Medication list entry"),
    "MedicationDispense": gettext_noop("Pharmacy fill"),
    "MedicationAdministration": gettext_noop("Medication given"),
    "CarePlan": gettext_noop("Care plan"),
    "Goal": gettext_noop("Goal"),
    "ServiceRequest": gettext_noop("Order or referral"),
    "Coverage": gettext_noop("Insurance coverage"),
    "Device": gettext_noop("Device"),
    "DeviceUseStatement": gettext_noop("Device"),
    "FamilyMemberHistory": gettext_noop("Family history"),
    "RelatedPerson": gettext_noop("Related person"),
    "Claim": gettext_noop("Insurance claim"),
    "ExplanationOfBenefit": gettext_noop("Explanation of benefits"),
    "Composition": gettext_noop("Clinical document"),
    "Provenance": gettext_noop("Source information"),
    "Organization": gettext_noop("Organization"),
    "Practitioner": gettext_noop("Clinician"),
    "PractitionerRole": gettext_noop("Clinician"),
    "Location": gettext_noop("Place of care"),
    "Patient": gettext_noop("Your details"),
    "Medication": gettext_noop("Medication"),
    "CareTeam": gettext_noop("Care team"),
    "Consent": gettext_noop("Consent"),
    "Communication": gettext_noop("Message"),
    "Immunization": gettext_noop("Immunization"),
    "Encounter": gettext_noop("Visit"),
    "DocumentReference": gettext_noop("Document"),
}


def type_words(resource: Any) -> str:
    """What a resource is, in words ("Care plan", "Insurance claim")."""
    kind = _str(_dict(resource).get("resourceType"))
    if kind in TYPE_WORDS:
        return gettext(TYPE_WORDS[kind])
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", kind).capitalize() if kind else gettext("Item")


def allergy_substances(allergy: Any) -> list[str]:
    """The allergens of `reaction[].substance` (where converted records put them, `code` left empty)."""
    names: list[str] = []
    for reaction in _dicts(_dict(allergy).get("reaction"))[:10]:
        name = concept_name(reaction.get("substance"))
        if name and name not in names:
            names.append(name)
    return names


def note_text(resource: Any) -> str:
    """The first annotation (`note[].text`) of a resource."""
    for note in _dicts(_dict(resource).get("note"))[:10]:
        text = _text(note.get("text"))
        if text:
            return text
    return ""


def _first_line(text: str, limit: int = 120) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "\u2026"


def _family_history_name(resource: dict) -> str:
    relationship = _dict(resource.get("relationship"))
    relation = _text(relationship.get("text")) or next(
        (_text(c.get("display")) for c in _dicts(relationship.get("coding")) if _text(c.get("display"))), ""
    )
    for coding in _dicts(relationship.get("coding")):
        relation = relation or terminology.relationship_name(_str(coding.get("code")))
    relation = relation or concept_name(relationship)
    conditions = [concept_name(c.get("code")) for c in _dicts(resource.get("condition"))[:5]]
    conditions = [c for c in conditions if c]
    if conditions:
        relation = relation or gettext("Family member (relation not given)")
        return f"{relation}: {', '.join(conditions)}"
    return relation


def _coverage_name(resource: dict, resolve: Resolver | None) -> str:
    for ref in _dicts(resource.get("payor"))[:5]:
        name = reference_label(ref, resource=resource, resolve=resolve)
        if name:
            return name
    for item in _dicts(resource.get("class"))[:5]:
        name = _text(item.get("name"))
        if name:
            return name
    return concept_name(resource.get("type"))


def _care_plan_name(resource: dict) -> str:
    name = _text(resource.get("title")) or _text(resource.get("description"))
    if name:
        return name
    for activity in _dicts(resource.get("activity"))[:10]:
        detail = _dict(activity.get("detail"))
        name = concept_name(detail.get("code")) or _text(detail.get("description"))
        if name:
            return name
    return concept_name(first_concept(resource.get("category")))


def _device_name(resource: dict) -> str:
    name = resource_label(resource) or concept_name(resource.get("type"))
    if name:
        return name
    for carrier in _dicts(resource.get("udiCarrier"))[:3]:
        name = _text(carrier.get("deviceIdentifier"))
        if name:
            return gettext("Device %(identifier)s") % {"identifier": name}
    return ""


def _own_name(resource: dict, kind: str, resolve: Resolver | None) -> str:
    """The name a resource gives itself, by type; "" when it gives none."""
    if kind == "AllergyIntolerance":
        return concept_name(resource.get("code")) or ", ".join(allergy_substances(resource))
    if kind == "FamilyMemberHistory":
        return _family_history_name(resource)
    if kind == "Coverage":
        return _coverage_name(resource, resolve)
    if kind == "CarePlan":
        return _care_plan_name(resource)
    if kind == "Goal":
        name = concept_name(resource.get("description"))
        if name:
            return name
        measures = [concept_name(t.get("measure")) for t in _dicts(resource.get("target"))[:3]]
        return (
            gettext("Target for %(measures)s") % {"measures": ", ".join(m for m in measures if m)}
            if any(measures)
            else ""
        )
    if kind in ("Device", "DeviceUseStatement"):
        if kind == "DeviceUseStatement":
            device = _resolve_reference(resource.get("device"), resource=resource, resolve=resolve)
            return _device_name(device or {}) or _str(_dict(resource.get("device")).get("display"))
        return _device_name(resource)
    if kind == "RelatedPerson":
        name = human_name(resource.get("name"))
        relation = concept_name(first_concept(resource.get("relationship")))
        return f"{name} ({relation.lower()})" if name and relation else name or relation
    if kind == "Composition":
        return _text(resource.get("title")) or concept_name(resource.get("type"))
    if kind in ("Claim", "ExplanationOfBenefit"):
        # claim-type codes are plain words ("professional", "pharmacy") when no display is given
        concept = _dict(resource.get("type"))
        kind_name = _text(concept.get("text")) or next(
            (_text(c.get("display")) or _text(c.get("code")) for c in _dicts(concept.get("coding"))), ""
        )
        return f"{gettext(TYPE_WORDS[kind])}: {kind_name.lower()}" if kind_name else ""
    if kind == "Provenance":
        names = [
            reference_label(a.get("who"), resource=resource, resolve=resolve) for a in _dicts(resource.get("agent"))
        ]
        names = [n for n in names if n]
        return gettext("Provided by %(names)s") % {"names": ", ".join(names[:3])} if names else ""
    if kind in ("Observation", "DiagnosticReport"):
        for system, code in sorted(concept_codes(resource.get("code")), key=lambda c: _system_rank(c[0])):
            if terminology.canonical_system(system) == LOINC and terminology.lab_everyday_name(code):
                return terminology.lab_everyday_name(code)
    return concept_name(resource.get("code"))


_NAMED_BY_CODE = ("Observation", "DiagnosticReport")


def _names_by_code(resource: dict, kind: str) -> tuple[str, str]:
    """(`_own_name`, `official_name`) of a result or report, both read from its `code` alone.

    A lab page's 250 results repeat a few dozen tests: each test is named once for the page, keyed by
    its `code` element's JSON. A page keeps one language throughout (`page_language.remembered`);
    outside a page nothing is kept."""
    memo = page_language.remembered("fhir names by code")
    if memo is None:
        return _own_name(resource, kind, None), _official_name(resource)
    try:
        key = (kind, orjson.dumps(resource.get("code")))
    except orjson.JSONEncodeError:
        return _own_name(resource, kind, None), _official_name(resource)
    found = memo.get(key)
    if found is None:
        found = memo[key] = (_own_name(resource, kind, None), _official_name(resource))
    return found


def official_name(resource: Any) -> str:
    """The official (LOINC long) name of a lab test whose list name is an everyday one, else ""."""
    resource = _dict(resource)
    kind = _str(resource.get("resourceType"))
    if kind not in _NAMED_BY_CODE:
        return ""
    return _names_by_code(resource, kind)[1]


def _official_name(resource: dict) -> str:
    for system, code in concept_codes(resource.get("code")):
        if terminology.canonical_system(system) == LOINC and terminology.lab_official_name(code):
            return terminology.lab_official_name(code)
    return ""


def resource_name(resource: Any, *, resolve: Resolver | None = None) -> str:
    """The main name of a resource of any type.

    Looks everywhere a person's name for the item can be (its codes, `reaction.substance`, title,
    description, a note, the narrative) before giving up; code-only concepts are named from the code
    tables. Returns "" only when the resource carries no human-readable text at all.
    """
    resource = _dict(resource)
    kind = _str(resource.get("resourceType"))
    name = _named(resource, kind, resolve)
    if name and not _CODE_ONLY_NAME.match(name):
        return name
    name = note_text(resource)[:200] or _first_line(narrative_text(resource, limit=2000)) or name
    if name:
        return name
    found = any_text(resource)
    return f"{type_words(resource)}: {found}" if found else ""


def name_in_language(*, stored: str, resource: Any, current: str | None = None) -> str:
    """A name kept at import, shown in the active language.

    When a resource gives no name, Homeport names it ("Visit", "Document", "Target for ...") at import,
    where the language is English; such a name is chosen again now. A name from the record itself, or one
    found through a reference at import (a medication's), is kept as written. `current` is the name
    just worked out from the resource in the active language, when the caller has it."""
    current = resource_name(resource) if current is None else current
    if not stored or stored == current:
        return stored or current
    for language, _label in settings.LANGUAGES:
        with page_language.speaking(language):
            if resource_name(resource) == stored:
                return current
    return stored


_TEXT_KEYS = ("text", "title", "description")
_SKIP_KEYS = {"meta", "identifier", "id", "resourceType", "contained", "extension", "modifierExtension"}


def any_text(value: Any, *, depth: int = 0) -> str:
    """The first human-readable text anywhere in a resource (a concept's text, a coding's display, a
    title or description), for items that carry no name where one is expected."""
    if depth > 6:
        return ""
    if isinstance(value, list):
        for item in value[:50]:
            found = any_text(item, depth=depth + 1)
            if found:
                return found
        return ""
    if not isinstance(value, dict):
        return ""
    for key in _TEXT_KEYS:
        text = _text(value.get(key))
        if text:
            return text[:200]
    for coding in _dicts(value.get("coding"))[:10]:
        text = _text(coding.get("display"))
        if text:
            return text[:200]
    for key, item in value.items():
        if key not in _SKIP_KEYS and isinstance(item, dict | list):
            found = any_text(item, depth=depth + 1)
            if found:
                return found
    return ""


# What `concept_name` falls back to when it knows no name: "SNOMED CT 1234509876".
_SHORT_NAMES_PATTERN = "|".join(re.escape(name) for name in sorted(set(SYSTEM_SHORT_NAMES.values())))
_CODE_ONLY_NAME = re.compile(rf"^(?:{_SHORT_NAMES_PATTERN}) \S+$")


def _named(resource: dict, kind: str, resolve: Resolver | None) -> str:
    if kind in _NAMED_BY_CODE:  # named from `code` alone (`_own_name`), whatever the resolver
        return _names_by_code(resource, kind)[0]
    if kind.startswith("Medication") and kind != "Medication":
        return medication_name(resource, resolve=resolve)
    if kind == "Immunization":
        return concept_name(resource.get("vaccineCode"))
    if kind == "Encounter":
        name = concept_name(first_concept(resource.get("type"))) or concept_name(resource.get("serviceType"))
        if not name:
            kind_of_visit = _text(_dict(resource.get("class")).get("display"))
            name = gettext("%(kind)s visit") % {"kind": kind_of_visit.capitalize()} if kind_of_visit else ""
        return name or gettext("Visit")
    if kind == "DocumentReference":
        name = _str(resource.get("description")) or concept_name(resource.get("type"))
        if not name:
            for content in _dicts(resource.get("content")):
                name = _str(_dict(content.get("attachment")).get("title"))
                if name:
                    break
        return name or gettext("Document")
    if kind in ("Organization", "Practitioner", "Patient", "Location"):
        return resource_label(resource)
    return _own_name(resource, kind, resolve)


def describe(
    resource: Any, *, resolve: Resolver | None = None, sex: str = "", age_years: float | None = None
) -> Display:
    """Everything a row shows, computed once."""
    resource = _dict(resource)
    kind = _str(resource.get("resourceType"))
    display = Display(
        name=resource_name(resource, resolve=resolve)
        or gettext("%(kind)s (no name given)") % {"kind": type_words(resource)},
        date=clinical_date(resource),
        status=status_words(resource),
        kind=type_words(resource),
        dated=kind in _DATE_RULES,
    )
    official = official_name(resource)
    if official and official != display.name:
        display.details.append((gettext("Official name"), official))
    if kind == "Observation":
        display.value = observation_value_text(resource)
        display.flag = interpretation_flag(resource, sex=sex, age_years=age_years)
    elif kind == "AllergyIntolerance":
        display.value = ", ".join(allergy_reactions(resource))
        substances = allergy_substances(resource)
        if substances and concept_name(resource.get("code")):
            display.details.append((gettext("Substance"), ", ".join(substances)))
    elif kind == "FamilyMemberHistory":
        fatal = [
            concept_name(c.get("code")) for c in _dicts(resource.get("condition"))[:5] if c.get("contributedToDeath")
        ]
        if any(fatal):
            display.details.append((gettext("Contributed to death"), ", ".join(name for name in fatal if name)))
    elif kind == "Goal":
        display.value = ", ".join(
            name for name in (concept_name(t.get("measure")) for t in _dicts(resource.get("target"))[:3]) if name
        )
        if criticality_words(resource):
            display.details.append((gettext("Risk"), criticality_words(resource)))
    elif kind.startswith("Medication"):
        display.value = dosage_text(resource)
    elif kind == "Encounter":
        reason = concept_name(first_concept(resource.get("reasonCode")))
        display.value = reason
    return display
