"""MedlinePlus Connect: the National Library of Medicine's service that maps a code (a lab's LOINC,
a condition's ICD-10-CM or SNOMED CT, a medicine's RxNorm) to plain-language health topics, in
English and Spanish.

Only the code system, the code and the language go out: never who the code is for. Answers are
decoded once here into typed structs; the caller never sees raw JSON or transport errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import msgspec
import nh3
from django.conf import settings

from records.http import hardened_client

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"

# The code-system identifiers (OIDs) MedlinePlus Connect takes in mainSearchCriteria.v.cs.
SYSTEM_OIDS = {
    LOINC: "2.16.840.1.113883.6.1",
    SNOMED: "2.16.840.1.113883.6.96",
    ICD10CM: "2.16.840.1.113883.6.90",
    RXNORM: "2.16.840.1.113883.6.88",
    NDC: "2.16.840.1.113883.6.69",
}
LANGUAGES = ("en", "es")
MAX_TOPICS = 3
# What a topic summary may keep: MedlinePlus writes headings, paragraphs, lists and links.
SUMMARY_TAGS = {"h3", "h4", "p", "ul", "ol", "li", "a", "strong", "em", "b", "i", "br"}


class Unavailable(Exception):
    """MedlinePlus could not be asked or did not answer usefully; say so and offer the fallback."""


@dataclass(frozen=True)
class Topic:
    title: str
    url: str
    summary_html: str


class _Text(msgspec.Struct):
    _value: str = msgspec.field(default="", name="_value")


class _Link(msgspec.Struct):
    href: str = ""


class _Entry(msgspec.Struct):
    title: _Text | None = None
    link: list[_Link] | _Link | None = None
    summary: _Text | None = None


class _Feed(msgspec.Struct):
    entry: list[_Entry] | _Entry | None = None


class _Answer(msgspec.Struct):
    feed: _Feed | None = None


def supported(system: str) -> bool:
    return system in SYSTEM_OIDS


def _safe_url(url: str) -> str:
    """Only MedlinePlus's own pages over HTTPS are linked."""
    parts = httpx.URL(url) if url else None
    if parts is None or parts.scheme != "https" or not parts.host.endswith("medlineplus.gov"):
        return ""
    return str(parts)


def summary_clean(html: str) -> str:
    """A topic summary reduced to headings, paragraphs, lists and HTTPS links."""
    return nh3.clean(
        html,
        tags=SUMMARY_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"https"},
        link_rel="noopener noreferrer",
    ).strip()


def decode(raw: bytes) -> list[Topic]:
    """The topics of one answer: at most three, each with a title and a MedlinePlus link."""
    try:
        answer = msgspec.json.decode(raw, type=_Answer)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Unavailable("the answer was not MedlinePlus Connect JSON") from exc
    entries = answer.feed.entry if answer.feed else None
    if entries is None:
        return []
    if isinstance(entries, _Entry):
        entries = [entries]
    topics = []
    for entry in entries:
        links = entry.link if isinstance(entry.link, list) else [entry.link] if entry.link else []
        url = next((_safe_url(link.href) for link in links if _safe_url(link.href)), "")
        title = (entry.title._value if entry.title else "").strip()
        if not title or not url:
            continue
        topics.append(
            Topic(title=title[:200], url=url, summary_html=summary_clean(entry.summary._value if entry.summary else ""))
        )
        if len(topics) == MAX_TOPICS:
            break
    return topics


def topics_fetch(*, system: str, code: str, language: str, transport: httpx.BaseTransport | None = None) -> list[Topic]:
    """Ask MedlinePlus Connect about one code; raise Unavailable on any failure."""
    if not supported(system) or language not in LANGUAGES or not code or len(code) > 64:
        raise Unavailable("not a code MedlinePlus Connect knows")
    params = {
        "mainSearchCriteria.v.cs": SYSTEM_OIDS[system],
        "mainSearchCriteria.v.c": code,
        "informationRecipient.languageCode.c": language,
        "knowledgeResponseType": "application/json",
    }
    try:
        with hardened_client(timeout=settings.MEDLINEPLUS_TIMEOUT_SECONDS, transport=transport) as client:
            response = client.get(
                settings.MEDLINEPLUS_CONNECT_URL, params=params, headers={"accept": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise Unavailable("MedlinePlus could not be reached") from exc
    if response.status_code != 200:
        raise Unavailable(f"MedlinePlus answered {response.status_code}")
    if len(response.content) > 512 * 1024:
        raise Unavailable("the answer was too large")
    return decode(response.content)
