"""The trend chart's points and table rows are drawn in Python (hundreds of them cost the page more
than the rest); they draw exactly what the template drew, in English and in Spanish."""

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from records import charts

OLD_POINTS = (
    "{% load record_time %}{% for line in chart.lines %}"
    '{% for p in line.points %}{% if p.flag %}<rect class="chart__point chart__point--flagged" x="{{ p.x|add:\'-5\' }}"'
    ' y="{{ p.y|add:\'-5\' }}" width="10" height="10" transform="rotate(45 {{ p.x }} {{ p.y }})"><title>'
    "{{ p.date_text|when }}: {{ p.value_text }} ({{ p.flag_label }})</title></rect>{% elif line.index %}<rect"
    ' class="chart__point chart__point--{{ line.index }}" x="{{ p.x|add:\'-4\' }}" y="{{ p.y|add:\'-4\' }}"'
    ' width="8" height="8"><title>{{ p.date_text|when }}: {{ p.value_text }}</title></rect>{% else %}<circle'
    ' class="chart__point" cx="{{ p.x }}" cy="{{ p.y }}" r="4"><title>{{ p.date_text|when }}: {{ p.value_text }}'
    "</title></circle>{% endif %}{% endfor %}{% endfor %}"
)
OLD_ROWS = (
    "{% load i18n record_time %}{% for p in rows %}<tr><td><a href=\"{% url 'records:item' p.pk %}\">"
    "{% if p.date_text %}"
    '{{ p.date_text|when }}{% else %}{% translate "Date not given" %}{% endif %}</a></td><td class="num">'
    '{{ p.value_text }}</td><td>{% if p.flag %}<span class="badge badge--warn">{{ p.flag_label }}</span>{% endif %}'
    "</td></tr>{% endfor %}"
)
NEW_POINTS = "{% load record_markup %}{% for line in chart.lines %}{% chart_points line %}{% endfor %}"
NEW_ROWS = "{% load record_markup %}{% trend_rows rows %}"


def _point(n: int, *, flag: str = "", value: float = 4.5) -> dict:
    when = datetime(2020 + n % 4, 1 + n % 12, 1 + n % 27, 9, n % 60, tzinfo=UTC)
    return {
        "pk": 100 + n,
        "value": value + n / 7,
        "when": when,
        "date_text": when.isoformat() if n % 5 else f"{2020 + n % 4}-03",
        "value_text": f"{value + n / 7:.1f} mmol/L <&>",
        "flag": flag,
        "flag_label": "High <b>" if flag else "",
        "source": "Lab",
    }


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_tags_draw_what_the_template_drew(language):
    points = [_point(n, flag="H" if n % 3 == 0 else "") for n in range(40)]
    second = [_point(n, value=80) for n in range(40)]
    chart = charts.trend_chart(points, None, series=[{"name": "a", "points": points}, {"name": "b", "points": second}])
    rows = [*points, {**_point(41), "date_text": ""}]
    context = {"chart": chart, "rows": rows}
    with translation.override(language):
        assert Template(NEW_POINTS).render(Context(context)) == Template(OLD_POINTS).render(Context(context))
        assert Template(NEW_ROWS).render(Context(context)) == Template(OLD_ROWS).render(Context(context))


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("own_formats", [True, False])
def test_every_kind_of_number_is_drawn_as_the_template_drew_it(language, grouped, own_formats, settings):
    """Coordinates take a short way when no thousands are grouped; it must give what the template gave,
    also with a decimal comma (Django's own Spanish formats)."""
    settings.USE_THOUSAND_SEPARATOR = grouped
    if not own_formats:
        settings.FORMAT_MODULE_PATH = None
    numbers = [0, 7, -3, 12345, 1.5, -0.25, 1234.5, 64.0, 1e-07, 2.5e16, -1e-05]
    lines = [
        {"index": index, "points": [{**_point(n, flag=flag), "x": x, "y": numbers[-n]} for n, x in enumerate(numbers)]}
        for index, flag in ((0, ""), (0, "H"), (1, ""))
    ]
    context = {"chart": {"lines": lines}}
    with translation.override(language):
        assert Template(NEW_POINTS).render(Context(context)) == Template(OLD_POINTS).render(Context(context))
