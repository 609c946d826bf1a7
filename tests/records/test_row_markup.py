"""The record's list rows, lab panels' heads and medication lines are drawn in Python (a lab page holds
hundreds of rows); they draw exactly what `records/_row.html`, the panel head of `records/category.html`
and `records/_medication_row.html` drew, for every kind of item, in English and in Spanish."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from django.template import engines
from django.utils import translation

from records import fhir, selectors
from tests.records.conftest import generated, ingest_bundle
from tests.records.two_networks import ingest_from, metriport_bundle, particle_bundle

pytestmark = pytest.mark.django_db

OLD_ROW = (
    '{% load i18n %}<li class="record-row{% if it.display.flag and it.display.flag.abnormal %}'
    ' record-row--flagged{% endif %}">\n'
    '  <div class="record-row__main">\n'
    '    <a class="record-row__name" href="{% url \'records:item\' it.pk %}">{{ it.display.name'
    " }}</a>\n"
    '    {% if it.is_new %}<span class="badge badge--new">{% translate "New" %}<span'
    ' class="visually-hidden"> {% translate "since your last search" %}</span></span>{% endif'
    " %}\n"
    '    {% if it.display.value %}<span class="record-row__value">{{ it.display.value'
    " }}</span>{% endif %}\n"
    '    {% if it.display.flag and it.display.flag.abnormal %}<span class="badge badge--{{'
    ' it.display.flag.tone }}">{{ it.display.flag.label }}</span>{% endif %}\n'
    '    {% if it.trendable %}<a class="record-row__trend" href="{% url \'records:trend\' it.pk'
    ' %}">{% translate "Trend" %}<span class="visually-hidden"> {% blocktranslate with'
    " name=it.display.name %}of {{ name }}{% endblocktranslate %}</span></a>{% endif %}\n"
    "  </div>\n"
    '  <div class="record-row__meta">\n'
    '    {% if it.display.date %}<time datetime="{{ it.display.date.text }}">{{'
    ' it.display.date.display }}</time>{% elif it.display.dated %}<span>{% translate "Date not'
    ' given" %}</span>{% endif %}\n'
    '    {% if it.resource.category == "other" %}<span>{{ it.display.kind }}</span>{% endif %}\n'
    "    {% if it.display.status %}<span>{{ it.display.status }}</span>{% endif %}\n"
    '    {% include "records/_sources.html" with sources=it.sources networks=it.network_words'
    " %}\n"
    "  </div>\n"
    "</li>\n"
)


def _variants(items: list[selectors.Item]) -> list[selectors.Item]:
    """Each item as listed, and again new, undated, flagged and named with markup."""
    out = []
    for item in items:
        out.append(item)
        other = copy.deepcopy(item)
        other.is_new = not item.is_new
        other.display.date = None
        other.display.dated = not item.display.dated
        other.display.name = f"{item.display.name} <b>&</b>"
        other.display.flag = other.display.flag or fhir.Flag(code="H", label="High", tone="warn")
        other.sources = [*item.sources, "A & B <Clinic>"][-2:] if item.sources else []
        out.append(other)
    return out


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_row_tag_draws_what_the_row_template_drew(mfa_user, private_storage_dir, language):
    ingest_bundle(mfa_user, generated("mixed", size=500))
    ingest_from(mfa_user, metriport_bundle(), network="metriport", request_id="req-2", retire=False)
    ingest_from(mfa_user, particle_bundle(), network="particle", request_id="req-3")
    items: list[selectors.Item] = []
    for category in [*selectors.CATEGORIES, "other"]:
        for it in selectors.category_list(user=mfa_user, category=category).items:
            items += [it, *it.children]
    for visit in selectors.timeline_for(user=mfa_user)[1]:
        items += [i for rows in visit.items.values() for i in rows]
    assert any(i.network_words for i in items) and any(i.trendable for i in items)
    assert any(i.resource.category == "other" for i in items)
    # Each row's own markup: the template drew no results beneath a row, which the tag now does for a
    # panel inside a panel (tests/records/test_panel_results_only.py).
    items = [dataclasses.replace(i, children=[]) for i in items]
    old = engines["django"].from_string(
        "{% load i18n %}{% for it in items %}" + OLD_ROW.replace("{% load i18n %}", "") + "{% endfor %}"
    )
    new = engines["django"].from_string("{% load record_markup %}{% for it in items %}{% record_row it %}{% endfor %}")
    context = {"items": _variants(items)}
    with translation.override(language):
        assert new.render(context) == old.render(context)


OLD_PANEL_HEAD = (
    '<h2 class="panel__name"><a href="{% url \'records:item\' it.pk %}">{{ it.display.name }}</a></h2>\n'
    '          <div class="record-row__meta">{% if it.display.date %}<time datetime="{{ it.display.date.text }}">'
    "{{ it.display.date.display }}</time>{% endif %}{% if it.display.status %}<span>{{ it.display.status }}"
    '</span>{% endif %}{% include "records/_sources.html" with sources=it.sources networks=it.network_words %}'
    "</div>"
)
OLD_MEDICATION_ROW = (
    '{% load i18n %}<li class="record-row">\n'
    '  <div class="record-row__main">\n'
    '    <a class="record-row__name" href="{% url \'records:item\' g.pk %}">{{ g.name }}</a>\n'
    '    {% if g.instructions %}<span class="record-row__value">{{ g.instructions }}</span>{%'
    " endif %}\n"
    "  </div>\n"
    '  <div class="record-row__meta">\n'
    "    <span>{{ g.status }}</span>\n"
    '    {% if g.last_filled %}<span>{% translate "Last filled" %} <time datetime="{{'
    ' g.last_filled.text }}">{{ g.last_filled.display }}</time></span>{% else %}<span>{%'
    ' translate "No pharmacy fill on record" %}</span>{% endif %}\n'
    "    {% if g.latest.display.date and g.latest.display.date != g.last_filled %}<span>{%"
    ' translate "Last mentioned" %} <time datetime="{{ g.latest.display.date.text }}">{{'
    " g.latest.display.date.display }}</time></span>{% endif %}\n"
    '    {% include "records/_sources.html" with sources=g.sources networks=g.network_words %}\n'
    "  </div>\n"
    "</li>\n"
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_panel_and_medication_tags_draw_what_their_templates_drew(mfa_user, private_storage_dir, language):
    ingest_bundle(mfa_user, generated("mixed", size=500))
    ingest_from(mfa_user, metriport_bundle(), network="metriport", request_id="req-2", retire=False)
    ingest_from(mfa_user, particle_bundle(), network="particle", request_id="req-3")
    panels = [it for it in selectors.category_list(user=mfa_user, category="labs").items if it.children]
    medications = selectors.medications_reconciled(user=mfa_user)
    drugs = [*medications.current, *medications.past]
    assert panels and drugs and any(g.network_words for g in drugs) and any(g.instructions for g in drugs)
    dated = next(g for g in drugs if g.latest.display.date)
    drugs += [
        dataclasses.replace(dated, last_filled=dated.latest.display.date),  # the last mention is the fill
        dataclasses.replace(dated, last_filled=fhir.parse_fhir_date("2020-01-02"), name="Tylenol <b>&</b>"),
    ]
    django = engines["django"]
    old = django.from_string("{% load i18n %}{% for it in items %}" + OLD_PANEL_HEAD + "{% endfor %}")
    new = django.from_string("{% load record_markup %}{% for it in items %}{% record_panel_head it %}{% endfor %}")
    old_drugs = django.from_string("{% for g in drugs %}" + OLD_MEDICATION_ROW + "{% endfor %}")
    new_drugs = django.from_string("{% load record_markup %}{% for g in drugs %}{% medication_row g %}{% endfor %}")
    context = {"items": _variants(panels), "drugs": drugs}
    with translation.override(language):
        assert new.render(context) == old.render(context)
        assert new_drugs.render(context) == old_drugs.render(context)


def test_the_rows_tag_draws_the_rows_one_by_one(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=300))
    items = [c for it in selectors.category_list(user=mfa_user, category="labs").items for c in [it, *it.children]]
    context = {"items": _variants(items)}
    one_by_one = engines["django"].from_string(
        "{% load record_markup %}{% for it in items %}{% record_row it %}{% endfor %}"
    )
    together = engines["django"].from_string("{% load record_markup %}{% record_rows items %}")
    assert together.render(context) == one_by_one.render(context)
