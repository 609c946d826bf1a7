"""Markup drawn in Python where a page repeats it hundreds of times: the trend chart's points and
table rows (up to 500 results, each drawn twice) and the record's list rows (a lab page holds 25
panels and their results). One template node per value cost more than the rest of the page. The
markup is what the templates drew, value for value (localized, escaped and translated the same way).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import numberformat
from django.utils.formats import get_format, localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from records.templatetags.record_time import when

register = template.Library()

_DATES_KEY = "record_markup_dates"
_URLS_KEY = "record_markup_urls"
_ROW_WORDS_KEY = "record_markup_row_words"
_ANY_PK = 987654321


def _shown(value: Any) -> str:
    """A value as `{{ value }}` shows it (a plain string, the usual case, is only escaped)."""
    if type(value) is str:
        return html.escape(value)
    return conditional_escape(localize(value))


def _url_maker(context: template.Context, name: str) -> Callable[[int], str]:
    """`{% url name pk %}`, escaped, reversed once per page: the URL is the same with another number."""
    urls = context.render_context.get(_URLS_KEY)
    if urls is None:
        urls = context.render_context[_URLS_KEY] = {}
    if name not in urls:
        urls[name] = str(_shown(reverse(name, args=[_ANY_PK]))).partition(str(_ANY_PK))
    before, _, after = urls[name]
    return lambda pk: f"{before}{int(pk)}{after}"


def _number_shower() -> Callable[[float | int], str]:
    """`_shown` for numbers, with the language's separators read once (as `localize` reads them)."""
    language = get_language()
    decimal, grouping, thousand = (
        get_format(name, language, use_l10n=True)
        for name in ("DECIMAL_SEPARATOR", "NUMBER_GROUPING", "THOUSAND_SEPARATOR")
    )

    grouped = settings.USE_THOUSAND_SEPARATOR and grouping != 0
    point = html.escape(decimal)

    def shown(value: float | int) -> str:
        if not grouped and type(value) in (int, float):
            text = str(value)
            if "e" not in text:  # what `numberformat.format` makes of it without grouping
                return text.replace(".", point)
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
    date, item_url = _date_words(context), _url_maker(context, "records:item")
    undated = _shown(gettext("Date not given"))
    drawn = []
    for p in rows:
        flag = f'<span class="badge badge--warn">{_shown(p["flag_label"])}</span>' if p["flag"] else ""
        drawn.append(
            f'<tr><td><a href="{item_url(p["pk"])}">{date(p["date_text"]) if p["date_text"] else undated}'
            f'</a></td><td class="num">{_shown(p["value_text"])}</td><td>{flag}</td></tr>'
        )
    return mark_safe("".join(drawn))  # noqa: S308 - every value above is escaped


def _sources_markup(sources: list[str], networks: str, *, words: dict[str, str]) -> str:
    """What `records/_sources.html` draws: who reported an item, and through which networks (`words`
    are the page's translated sentences, by their English)."""
    listed = ", ".join(conditional_escape(source) for source in sources)
    if networks:
        if sources:
            said = words["Reported by %(sources)s, %(networks)s"] % {"sources": listed, "networks": _shown(networks)}
        else:
            said = words["Reported %(networks)s"] % {"networks": _shown(networks)}
        return f'<span class="record-row__sources">{said}</span>\n'
    if sources:
        return f"<span>{words['From %(sources)s'] % {'sources': listed}}</span>\n"
    return "\n"


@register.simple_tag(takes_context=True)
def record_row(context: template.Context, it: Any) -> SafeString:
    """One item of a list (what `records/_row.html` drew): name, "New", value, flag, trend link,
    date, kind, status and sources."""
    item_url, trend_url = _url_maker(context, "records:item"), _url_maker(context, "records:trend")
    shown = context.render_context.get(_ROW_WORDS_KEY)
    if shown is None:
        shown = context.render_context[_ROW_WORDS_KEY] = {
            "New": gettext("New"),
            "since your last search": gettext("since your last search"),
            "Trend": gettext("Trend"),
            "Date not given": gettext("Date not given"),
            "of %(name)s": gettext("of %(name)s"),
            "Reported by %(sources)s, %(networks)s": gettext("Reported by %(sources)s, %(networks)s"),
            "Reported %(networks)s": gettext("Reported %(networks)s"),
            "From %(sources)s": gettext("From %(sources)s"),
        }
    d = it.display
    flag = d.flag
    flagged = bool(flag and flag.abnormal)
    name = _shown(d.name)
    out = [
        f'<li class="record-row{" record-row--flagged" if flagged else ""}">\n  <div class="record-row__main">\n',
        f'    <a class="record-row__name" href="{item_url(it.pk)}">{name}</a>\n    ',
    ]
    if it.is_new:
        out.append(
            f'<span class="badge badge--new">{shown["New"]}<span class="visually-hidden">'
            f" {shown['since your last search']}</span></span>"
        )
    out.append("\n    ")
    if d.value:
        out.append(f'<span class="record-row__value">{_shown(d.value)}</span>')
    out.append("\n    ")
    if flagged:
        out.append(f'<span class="badge badge--{_shown(flag.tone)}">{_shown(flag.label)}</span>')
    out.append("\n    ")
    if it.trendable:
        out.append(
            f'<a class="record-row__trend" href="{trend_url(it.pk)}">{shown["Trend"]}<span class="visually-hidden">'
            f" {shown['of %(name)s'] % {'name': name}}</span></a>"
        )
    out.append('\n  </div>\n  <div class="record-row__meta">\n    ')
    if d.date:
        out.append(f'<time datetime="{_shown(d.date.text)}">{_shown(d.date.display)}</time>')
    elif d.dated:
        out.append(f"<span>{shown['Date not given']}</span>")
    out.append("\n    ")
    if it.resource.category == "other":
        out.append(f"<span>{_shown(d.kind)}</span>")
    out.append("\n    ")
    if d.status:
        out.append(f"<span>{_shown(d.status)}</span>")
    out.append("\n    ")
    out.append(_sources_markup(it.sources, it.network_words, words=shown))
    out.append("\n  </div>\n</li>\n")
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped
