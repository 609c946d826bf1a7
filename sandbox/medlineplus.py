"""A stand-in for MedlinePlus Connect, so plain-language explanations show in `bin/run` with no
network: the same query parameters and the same JSON feed shape, from a small set of recorded
answers for the codes the generator uses (sandbox/medlineplus_answers.json)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

ANSWERS = Path(__file__).with_name("medlineplus_answers.json")
SYSTEM_NAMES = {
    "2.16.840.1.113883.6.1": "LOINC",
    "2.16.840.1.113883.6.96": "SNOMEDCT",
    "2.16.840.1.113883.6.90": "ICD10CM",
    "2.16.840.1.113883.6.88": "RXCUI",
    "2.16.840.1.113883.6.69": "NDC",
}


@functools.cache
def _answers() -> dict:
    return json.loads(ANSWERS.read_text(encoding="utf-8"))


def _entry(title: str, url: str, summary: str, updated: str) -> dict:
    return {
        "title": {"_value": title, "type": "text"},
        "link": [{"href": f"{url}?utm_source=mplusconnect&utm_medium=service", "rel": "alternate"}],
        "id": {"_value": f"tag: medlineplus.gov, {url}"},
        "summary": {"type": "html", "_value": summary},
        "updated": {"_value": updated},
    }


@require_GET
def service(request):
    """GET /sandbox/medlineplus/service?mainSearchCriteria.v.cs=&mainSearchCriteria.v.c=&..."""
    system = request.GET.get("mainSearchCriteria.v.cs", "")
    code = request.GET.get("mainSearchCriteria.v.c", "")
    language = "es" if request.GET.get("informationRecipient.languageCode.c", "en") == "es" else "en"
    if system not in SYSTEM_NAMES or not code:
        return JsonResponse({"error": "mainSearchCriteria.v.cs and mainSearchCriteria.v.c are required"}, status=400)
    data = _answers()
    updated = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = []
    for key in data["codes"].get(f"{system}|{code}", []):
        if key in data["topics"]:
            title, url, summary = data["topics"][key][language]
            entries.append(_entry(title, url, summary, updated))
    feed = {
        "base": "https://medlineplus.gov/",
        "lang": language,
        "title": {"type": "text", "_value": "MedlinePlus Connect"},
        "updated": {"_value": updated},
        "subtitle": {"type": "text", "_value": f"MedlinePlus Connect results for {SYSTEM_NAMES[system]} {code}"},
        "category": [
            {"scheme": "mainSearchCriteria.v.c", "term": code},
            {"scheme": "mainSearchCriteria.v.cs", "term": SYSTEM_NAMES[system]},
            {"scheme": "informationRecipient", "term": "PAT"},
        ],
        "entry": entries,
    }
    return JsonResponse({"feed": feed}, json_dumps_params={"ensure_ascii": False})
