"""`when`: every date and time on every page in one format, in the person's time zone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template

from records import fhir

register = template.Library()


@register.filter
def when(value: Any) -> str:
    """A FHIR date (as given, partial kept), a FHIR text date, or an aware datetime, in words."""
    if isinstance(value, fhir.FhirDate):
        return fhir.format_fhir_date(value.text)
    if isinstance(value, datetime):
        return fhir.format_instant(value)
    if isinstance(value, date):
        return fhir.format_fhir_date(value.isoformat())
    if isinstance(value, str):
        return fhir.format_fhir_date(value)
    return ""
