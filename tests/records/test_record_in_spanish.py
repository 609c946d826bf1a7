"""Every record page in Spanish: no English sentence of Homeport's own is left, only the person's data.

A sentence is a visible text node of three words or more inside <main>. The English render of the same
page gives the sentences to look for; text that comes from the person's bundle (names, notes, places)
stays as the source wrote it and is not counted.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation

from records import medlineplus, terminology
from records.models import Resource
from tests.records.test_explain_view import sandbox_transport

CATEGORIES = (
    "conditions",
    "medications",
    "allergies",
    "immunizations",
    "labs",
    "vitals",
    "procedures",
    "encounters",
    "documents",
    "social",
    "family",
    "careplans",
    "coverage",
    "devices",
    "other",
)
WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]{2,}")


class MainText(HTMLParser):
    """The text nodes inside <main>, without scripts, styles and the raw FHIR JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.nodes: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth += 1
        if tag in ("script", "style", "pre"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag == "main":
            self.depth -= 1
        if tag in ("script", "style", "pre"):
            self.skip -= 1

    def handle_data(self, data):
        text = " ".join(data.split())
        if self.depth > 0 and not self.skip and text:
            self.nodes.append(text)


def sentences(html: str) -> set[str]:
    parser = MainText()
    parser.feed(html)
    return {node for node in parser.nodes if len(WORD.findall(node)) >= 3}


def bundle_texts(user) -> set[str]:
    """Every string of the person's own data: the raw resources and the names stored at ingest."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, str):
            found.add(" ".join(value.split()))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for raw, display, source in Resource.objects.filter(user=user).values_list("raw", "display", "source_org"):
        walk(raw)
        found.update({display, source})
    # Homeport's own everyday names are stored at ingest but are not the source's words
    return {text for text in found if text and text not in terminology.SPANISH_NAMES}


REFERENCE = re.compile(r"^resource:[A-Za-z]+/[\w.-]+$")  # the access history names the item opened


def from_the_bundle(sentence: str, texts: set[str], words: set[str]) -> bool:
    if REFERENCE.match(sentence):
        return True
    if any(sentence in text for text in texts):
        return True
    return all(word.lower() in words for word in WORD.findall(sentence))


@pytest.fixture
def spanish_sandbox(monkeypatch):
    real = medlineplus.topics_fetch

    def fetch(**kwargs):
        kwargs["transport"] = sandbox_transport()
        # the stand-in answers through Django's test client, which would switch this thread's language
        with translation.override(translation.get_language()):
            return real(**kwargs)

    monkeypatch.setattr(medlineplus, "topics_fetch", fetch)


def record_pages(user) -> list[str]:
    labs = Resource.objects.filter(user=user, category="labs", resource_type="Observation", value_num__isnull=False)
    egfr = labs.filter(code="98979-8").first() or labs.first()
    assert egfr is not None
    pages = [
        reverse("records:summary"),
        reverse("records:timeline"),
        reverse("records:downloads"),
        reverse("records:print"),
        reverse("share:list"),
        reverse("share:new"),
        reverse("share:viewer"),
        reverse("records:item", args=[egfr.pk]),
        reverse("records:trend", args=[egfr.pk]),
        reverse("records:explain", args=[egfr.pk]),
    ]
    pages += [reverse("records:category", args=[c]) for c in CATEGORIES]
    for kind in ("Condition", "MedicationRequest", "Immunization", "Encounter", "AllergyIntolerance"):
        first = Resource.objects.filter(user=user, resource_type=kind).first()
        if first is not None:
            pages.append(reverse("records:item", args=[first.pk]))
    pages.append(reverse("records:access_history"))  # last: it lists every page opened before it
    return pages


@pytest.mark.django_db
def test_every_record_page_has_no_english_sentence_of_its_own_in_spanish(record_owner, client_mfa, spanish_sandbox):
    texts = bundle_texts(record_owner)
    words = {w.lower() for text in texts for w in WORD.findall(text)}
    left_in_english: dict[str, list[str]] = {}
    pages = record_pages(record_owner)
    for url in pages:
        english = client_mfa.get(url, HTTP_ACCEPT_LANGUAGE="en")
        spanish = client_mfa.get(url, HTTP_ACCEPT_LANGUAGE="es")
        assert english.status_code == spanish.status_code == 200, url
        assert spanish["Content-Language"] == "es", url
        same = sentences(spanish.content.decode()) & sentences(english.content.decode())
        untranslated = sorted(s for s in same if not from_the_bundle(s, texts, words))
        if untranslated:
            left_in_english[url] = untranslated
    assert left_in_english == {}, "\n".join(f"{url}: {found}" for url, found in left_in_english.items())
    assert len(pages) > 25


@pytest.mark.django_db
def test_the_spanish_pages_say_it_in_spanish(record_owner, client_mfa, spanish_sandbox):
    summary = client_mfa.get(reverse("records:summary"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Su registro médico" in summary and "Alergias" in summary and "Signos vitales" in summary
    labs = client_mfa.get(reverse("records:category", args=["labs"]), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Resultados de laboratorio" in labs
    assert "Función renal (TFGe)" in labs and "Kidney function (eGFR)" not in labs


@pytest.mark.django_db
def test_the_share_viewer_gets_its_words_in_spanish(client):
    page = client.get(reverse("share:viewer"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    found = re.search(r'<script id="shl-viewer-words" type="application/json">(.*?)</script>', page)
    assert found is not None
    words = json.loads(found[1])
    assert words["Enter the passcode the person gave you."] == "Escriba el código de acceso que le dio la persona."
    assert words["That passcode is not right. {count} tries are left."].endswith("Quedan {count} intentos.")
    assert all(spanish and spanish != english for english, spanish in words.items() if len(english.split()) >= 3)
    assert "Registro médico compartido con usted" in page
