"""Geometry for the server-rendered trend chart: one unit per chart, a reference band, marked points.

The template draws the SVG from these numbers (no inline styles: CSP), so the chart works without
JavaScript and the same points are listed in a table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from records.fhir import ReferenceRange, format_fhir_date, format_number

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 20, 44


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    points: list[dict] = field(default_factory=list)
    path: str = ""
    band: dict | None = None
    y_ticks: list[dict] = field(default_factory=list)
    x_ticks: list[dict] = field(default_factory=list)
    plot: dict = field(default_factory=dict)
    lines: list[dict] = field(default_factory=list)


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def trend_chart(points: list[dict], band: ReferenceRange | None, *, series: list[dict] | None = None) -> Chart:
    """Scale dated values (and the band) into the plot; points without a date are left out.

    `series` ({"name", "points"}) draws several lines on one axis in one unit (blood pressure's
    systolic and diastolic); without it `points` is the one line.
    """
    series = series if series is not None else [{"name": "", "points": points}]
    lines = [
        {"name": s["name"], "dated": [p for p in s["points"] if isinstance(p.get("when"), datetime)]} for s in series
    ]
    dated = [p for line in lines for p in line["dated"]]
    chart = Chart(plot={"x": LEFT, "y": TOP, "w": WIDTH - LEFT - RIGHT, "h": HEIGHT - TOP - BOTTOM})
    if not dated:
        return chart
    values = [p["value"] for p in dated]
    low, high = min(values), max(values)
    if band is not None:
        bounds = [b for b in (band.low, band.high) if b is not None]
        low, high = min([low, *bounds]), max([high, *bounds])
    if high == low:
        high, low = high + (abs(high) * 0.1 or 1), low - (abs(low) * 0.1 or 1)
    step = _nice_step(high - low)
    y_min, y_max = math.floor(low / step) * step, math.ceil(high / step) * step
    t_min = min(p["when"] for p in dated).timestamp()
    t_max = max(p["when"] for p in dated).timestamp()
    plot_w, plot_h = chart.plot["w"], chart.plot["h"]

    def x_of(ts: float) -> float:
        return LEFT + (plot_w / 2 if t_max == t_min else (ts - t_min) / (t_max - t_min) * plot_w)

    def y_of(value: float) -> float:
        return TOP + plot_h - (value - y_min) / (y_max - y_min) * plot_h

    for index, line in enumerate(lines):
        placed = [
            {**p, "x": round(x_of(p["when"].timestamp()), 1), "y": round(y_of(p["value"]), 1)} for p in line["dated"]
        ]
        path = "M " + " L ".join(f"{p['x']} {p['y']}" for p in placed) if placed else ""
        chart.lines.append({"name": line["name"], "points": placed, "path": path, "index": index})
        chart.points.extend(placed)
    chart.path = chart.lines[0]["path"]
    if band is not None and band.numeric:
        top = y_of(band.high if band.high is not None else y_max)
        bottom = y_of(band.low if band.low is not None else y_min)
        chart.band = {
            "x": LEFT,
            "y": round(top, 1),
            "w": plot_w,
            "h": round(max(bottom - top, 1), 1),
            "label": band.label,
        }
    value = y_min
    while value <= y_max + step / 2:
        chart.y_ticks.append({"y": round(y_of(value), 1), "label": format_number(round(value, 6))})
        value += step
    first, last = min(p["when"] for p in dated), max(p["when"] for p in dated)
    years = range(first.year, last.year + 1)
    stride = max(1, math.ceil(len(years) / 8))
    for year in list(years)[::stride]:
        ts = datetime(year, 1, 1, tzinfo=first.tzinfo).timestamp()
        if t_min <= ts <= t_max:
            chart.x_ticks.append({"x": round(x_of(ts), 1), "label": str(year)})
    if not chart.x_ticks:
        chart.x_ticks.append(
            {"x": round(x_of(t_min), 1), "label": format_fhir_date(f"{first.year:04d}-{first.month:02d}")}
        )
    return chart
