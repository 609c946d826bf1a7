"""The PDF summary asked for in Spanish has Spanish headings, labels and dates."""

import io
import re

import pytest
from django.urls import reverse
from pypdf import PdfReader

from tests.records.test_summary_pdf import HEADINGS, journey_details  # noqa: F401 - the fixture

SPANISH_HEADINGS = (
    "Resumen del registro médico",
    "Alergias",
    "Afecciones activas",
    "Medicamentos actuales",
    "Resultados recientes fuera del rango habitual",
    "Vacunas",
    "Consultas recientes",
)


@pytest.mark.django_db
def test_the_pdf_in_spanish_has_spanish_headings(journey_details, client_mfa):  # noqa: F811
    response = client_mfa.get(reverse("records:summary_pdf"), HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    pages = [page.extract_text() for page in reader.pages]
    text = re.sub(r"\s+", " ", " ".join(pages))
    for heading in SPANISH_HEADINGS:
        assert heading in text, heading
    for heading in HEADINGS:
        assert f" {heading} " not in f" {text} ", heading
    first = re.sub(r"\s+", " ", pages[0])
    assert "9 de abril de 1961" in first and "Fecha de nacimiento" in first
    assert f"Página 1 de {len(pages)}" in pages[0]
    assert reader.metadata is not None
    assert reader.metadata.title == "Resumen del registro médico de Ada Okafor"
    assert reader.root_object["/Lang"] == "es-US"
