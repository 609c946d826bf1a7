"""The trend chart's points and the trend table's rows, drawn in Python: a trend has up to 500
results, each drawn twice, and one template node per value cost more than the rest of the page.
The markup is what the template drew, value for value (localized and escaped the same way)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import template
from django.urls import reverse
from django.utils import numberformat
from django.utils.formats import get_format, localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from records.templatetags.record_time import when

register = template.Library()

_DATES_KEY = "record_charts_dates"
_ANY_PK = 987654321


def _shown(value: Any) -> str:
    """A value as `{{ value }}` shows it."""
    return conditional_escape(localize(value))


def _number_shower() -> Callable[[float | int], str]:
    """`_shown` for numbers, with the language's separators read once (as `localize` reads them)."""
    language = get_language()
    decimal, grouping, thousand = (
        get_format(name, language, use_l10n=True)
        for name in ("DECIMAL_SEPARATOR", "NUMBER_GROUPING", "THOUSAND_SEPARATOR")
    )

    def shown(value: float | int) -> str:
        return conditional_escape(numberformat.format(value, decimal, None, grouping, thousand, use_l10n=True))

    return shown


def _moved(value: Any, by: int) -> Any:
    """`value|add:by` for the chart's numbers (the filter adds whole numbers)."""
    try:
        return int(value) + by
    except (ValueError, TypeError):
        return ""


def _date_words(context: template.Context) -> Callable[[str], str]:
    """`date_text|when`, escaped, worked out once per date for the whole page (chart and table)."""
    memo = context.render_context.get(_DATES_KEY)
    if memo is None:
        memo = context.render_context[_DATES_KEY] = {}

    def words(text: str) -> str:
        found = memo.get(text)
        if found is None:
            found = memo[text] = _shown(when(text))
        return found

    return words


@register.simple_tag(takes_context=True)
def chart_points(context: template.Context, line: dict) -> SafeString:
    """One line's points: flagged ones as diamonds, a second line's as squares, else circles."""
    number, date = _number_shower(), _date_words(context)
    drawn = []
    for p in line["points"]:
        x, y = number(p["x"]), number(p["y"])
        title = f"{date(p['date_text'])}: {_shown(p['value_text'])}"
        if p["flag"]:
            drawn.append(
                f'<rect class="chart__point chart__point--flagged" x="{number(_moved(p["x"], -5))}"'
                f' y="{number(_moved(p["y"], -5))}" width="10" height="10" transform="rotate(45 {x} {y})">'
                f"<title>{title} ({_shown(p['flag_label'])})</title></rect>"
            )
        elif line["index"]:
            drawn.append(
                f'<rect class="chart__point chart__point--{_shown(line["index"])}" x="{number(_moved(p["x"], -4))}"'
                f' y="{number(_moved(p["y"], -4))}" width="8" height="8"><title>{title}</title></rect>'
            )
        else:
            drawn.append(f'<circle class="chart__point" cx="{x}" cy="{y}" r="4"><title>{title}</title></circle>')
    return mark_safe("".join(drawn))  # noqa: S308 - every value above is escaped


@register.simple_tag(takes_context=True)
def trend_rows(context: template.Context, rows: list[dict]) -> SafeString:
    """The table beside the chart: date (linking to the result), value, flag."""
    date = _date_words(context)
    undated = _shown(gettext("Date not given"))
    # One reverse for every row: the item's URL is the same with another number in it.
    before, _, after = (str(_shown(reverse("records:item", args=[_ANY_PK])))).partition(str(_ANY_PK))
    drawn = []
    for p in rows:
        flag = f'<span class="badge badge--warn">{_shown(p["flag_label"])}</span>' if p["flag"] else ""
        drawn.append(
            f'<tr><td><a href="{before}{int(p["pk"])}{after}">{date(p["date_text"]) if p["date_text"] else undated}'
            f'</a></td><td class="num">{_shown(p["value_text"])}</td><td>{flag}</td></tr>'
        )
    return mark_safe("".join(drawn))  # noqa: S308 - every value above is escaped
