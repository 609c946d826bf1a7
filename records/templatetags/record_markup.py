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

from records import fhir
from records.templatetags.record_time import when

register = template.Library()

_DATES_KEY = "record_markup_dates"
_URLS_KEY = "record_markup_urls"
_ROW_WORDS_KEY = "record_markup_row_words"
_ESCAPED_KEY = "record_markup_escaped"
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
            found = memo[text] = _shown(fhir.format_fhir_date(text) if type(text) is str else when(text))
        return found

    return words


def _escaper(context: template.Context) -> Callable[[Any], str]:
    """`_shown`, each plain string escaped once for the whole page: a trend's 500 results repeat a few
    dozen values and flags, each drawn in the chart and in the table."""
    memo = context.render_context.get(_ESCAPED_KEY)
    if memo is None:
        memo = context.render_context[_ESCAPED_KEY] = {}

    def escaped(value: Any) -> str:
        if type(value) is not str:
            return _shown(value)
        found = memo.get(value)
        if found is None:
            found = memo[value] = html.escape(value)
        return found

    return escaped


@register.simple_tag(takes_context=True)
def chart_points(context: template.Context, line: dict) -> SafeString:
    """One line's points: flagged ones as diamonds, a second line's as squares, else circles."""
    number, date, escaped = _number_shower(), _date_words(context), _escaper(context)
    drawn = []
    for p in line["points"]:
        x, y = number(p["x"]), number(p["y"])
        title = f"{date(p['date_text'])}: {escaped(p['value_text'])}"
        if p["flag"]:
            drawn.append(
                f'<rect class="chart__point chart__point--flagged" x="{number(_moved(p["x"], -5))}"'
                f' y="{number(_moved(p["y"], -5))}" width="10" height="10" transform="rotate(45 {x} {y})">'
                f"<title>{title} ({escaped(p['flag_label'])})</title></rect>"
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
    date, item_url, escaped = _date_words(context), _url_maker(context, "records:item"), _escaper(context)
    undated = _shown(gettext("Date not given"))
    drawn = []
    for p in rows:
        flag = f'<span class="badge badge--warn">{escaped(p["flag_label"])}</span>' if p["flag"] else ""
        drawn.append(
            f'<tr><td><a href="{item_url(p["pk"])}">{date(p["date_text"]) if p["date_text"] else undated}'
            f'</a></td><td class="num">{escaped(p["value_text"])}</td><td>{flag}</td></tr>'
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


def _row_words(context: template.Context) -> dict[str, str]:
    """The sentences every row may say, translated once per page (by their English)."""
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
            "Last filled": gettext("Last filled"),
            "No pharmacy fill on record": gettext("No pharmacy fill on record"),
            "Last mentioned": gettext("Last mentioned"),
        }
    return shown


def _sources_drawer(words: dict[str, str]) -> Callable[[list[str], str], str]:
    """`_sources_markup` for one page's rows, which name the same few sources again and again: each
    list of plain-string sources is drawn once (escaping depends on nothing else)."""
    drawn: dict[tuple, str] = {}

    def draw(sources: list[str], networks: str) -> str:
        if type(networks) is not str or not all(type(source) is str for source in sources):
            return _sources_markup(sources, networks, words=words)
        key = (networks, *sources)
        found = drawn.get(key)
        if found is None:
            found = drawn[key] = _sources_markup(sources, networks, words=words)
        return found

    return draw


def _row_drawer(context: template.Context) -> Callable[[Any], str]:
    """What `records/_row.html` drew for one item (name, "New", value, flag, trend link, date, kind,
    status and sources), with the page's URLs and words looked up once for all the rows."""
    item_url, trend_url = _url_maker(context, "records:item"), _url_maker(context, "records:trend")
    shown = _row_words(context)
    sources_markup = _sources_drawer(shown)

    def draw(it: Any) -> str:
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
        out.append(sources_markup(it.sources, it.network_words))
        out.append("\n  </div>\n")
        if it.children:  # a result that is a panel itself (Observation.hasMember): its results beneath it
            out.append('  <ul class="record-list record-list--members">\n')
            out.extend(draw(member) for member in it.children)
            out.append("  </ul>\n")
        out.append("</li>\n")
        return "".join(out)

    return draw


@register.simple_tag(takes_context=True)
def record_row(context: template.Context, it: Any) -> SafeString:
    """One item of a list (what `records/_row.html` drew)."""
    return mark_safe(_row_drawer(context)(it))  # noqa: S308 - every value is escaped in the drawer


@register.simple_tag(takes_context=True)
def record_rows(context: template.Context, items: Any) -> SafeString:
    """`{% for it in items %}{% record_row it %}{% endfor %}` in one node: a lab page's 250 rows
    without a loop context, a tag node and an escape check each."""
    draw = _row_drawer(context)
    return mark_safe("".join(draw(it) for it in items))  # noqa: S308 - every value is escaped in the drawer


@register.simple_tag(takes_context=True)
def record_panel_head(context: template.Context, it: Any) -> SafeString:
    """A lab panel's name and meta line, as `records/category.html` drew them with `{% url %}`,
    three variables and an include of `records/_sources.html`."""
    d = it.display
    date = f'<time datetime="{_shown(d.date.text)}">{_shown(d.date.display)}</time>' if d.date else ""
    status = f"<span>{_shown(d.status)}</span>" if d.status else ""
    sources = _sources_markup(it.sources, it.network_words, words=_row_words(context))
    return mark_safe(  # noqa: S308 - every value above is escaped
        f'<h2 class="panel__name"><a href="{_url_maker(context, "records:item")(it.pk)}">{_shown(d.name)}</a></h2>\n'
        f'          <div class="record-row__meta">{date}{status}{sources}</div>'
    )


@register.simple_tag(takes_context=True)
def medication_row(context: template.Context, g: Any) -> SafeString:
    """One drug of the medication lists (what `records/_medication_row.html` drew): name, instructions,
    status, last fill, last mention and sources."""
    words = _row_words(context)
    instructions = g.instructions
    value = f'<span class="record-row__value">{_shown(instructions)}</span>' if instructions else ""
    filled = g.last_filled
    if filled:
        fill = (
            f'<span>{words["Last filled"]} <time datetime="{_shown(filled.text)}">{_shown(filled.display)}</time>'
            "</span>"
        )
    else:
        fill = f"<span>{words['No pharmacy fill on record']}</span>"
    latest = g.latest.display.date
    mentioned = (
        f'<span>{words["Last mentioned"]} <time datetime="{_shown(latest.text)}">{_shown(latest.display)}</time></span>'
        if latest and latest != filled
        else ""
    )
    return mark_safe(  # noqa: S308 - every value above is escaped
        '<li class="record-row">\n  <div class="record-row__main">\n'
        f'    <a class="record-row__name" href="{_url_maker(context, "records:item")(g.pk)}">{_shown(g.name)}</a>\n'
        f"    {value}\n  </div>\n"
        f'  <div class="record-row__meta">\n    <span>{_shown(g.status)}</span>\n    {fill}\n    {mentioned}\n'
        f"    {_sources_markup(g.sources, g.network_words, words=words)}\n  </div>\n</li>\n"
    )
