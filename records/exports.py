"""The person's record leaving Homeport in their hands: FHIR Bundle JSON, NDJSON per type, PDF summary."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import IO

from django.utils import formats, translation
from django.utils.translation import gettext

from records.fhir import clock_words
from records.selectors import Item, MedicationGroup, Summary, record_iter_resources


def bundle_stream(*, user_id: int) -> Iterator[bytes]:
    """The whole current record as one FHIR Bundle (collection), streamed without holding it in memory."""
    yield b'{"resourceType":"Bundle","type":"collection","entry":['
    first = True
    for _kind, data in record_iter_resources(user_id=user_id):
        prefix = b"" if first else b","
        first = False
        yield prefix + b'{"resource":' + data + b"}"
    yield b"]}"


def ndjson_zip(*, user_id: int):
    """A zip with one `<ResourceType>.ndjson` per type (FHIR bulk-data style); returns a file positioned at 0."""
    handle = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        current: str | None = None
        out: IO[bytes] | None = None
        for kind, data in record_iter_resources(user_id=user_id):
            if out is None or kind != current:
                if out is not None:
                    out.close()
                current = kind
                out = archive.open(f"{kind}.ndjson", "w")
            out.write(data + b"\n")
        if out is not None:
            out.close()
    handle.seek(0)
    return handle


_FONT = "HomeportSans"


def _register_fonts() -> None:
    """Bitstream Vera, shipped with reportlab and embedded: it has the signs ranges use (less or
    equal, greater or equal, en dash), and an embedded TrueType font gives screen readers and
    copy-paste the real characters."""
    import os

    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    faces = {"": "Vera.ttf", "-Bold": "VeraBd.ttf", "-Italic": "VeraIt.ttf", "-BoldItalic": "VeraBI.ttf"}
    for suffix, filename in faces.items():
        pdfmetrics.registerFont(TTFont(_FONT + suffix, os.path.join(folder, filename)))
    for bold, italic, suffix in ((0, 0, ""), (1, 0, "-Bold"), (0, 1, "-Italic"), (1, 1, "-BoldItalic")):
        addMapping(_FONT, bold, italic, _FONT + suffix)


def _in_spanish() -> bool:
    return (translation.get_language() or "en")[:2] == "es"


def _long_date(moment: date | datetime) -> str:
    """ "December 2, 2026" in English, "2 de diciembre de 2026" in Spanish."""
    if _in_spanish():
        return formats.date_format(moment, "DATE_FORMAT")
    return moment.strftime("%B %-d, %Y")


def _long_date_time(moment: datetime) -> str:
    if _in_spanish():
        return f"{formats.date_format(moment, 'DATE_FORMAT')}, {clock_words(moment)} {moment.strftime('%Z')}".strip()
    return moment.strftime("%B %-d, %Y at %-I:%M %p %Z").strip()


def _bold(label: str, style):
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(f"<b>{escape(label)}</b>", style)


def _usual_range(item) -> str:
    """The reference range the data gives for a result, as it reads ("3.5 to 5.0 mmol/L" with an en dash)."""
    from records import fhir

    ranges = [r for r in fhir.reference_ranges(item.resource.raw) if r.is_normal and r.label]
    chosen = fhir.applicable_range(ranges) or (ranges[0] if ranges else None)
    return chosen.label if chosen else gettext("Not given")


def summary_pdf(
    *,
    summary: Summary,
    person_name: str,
    birth_date: date | None,
    generated_at: datetime,
) -> bytes:
    """A printable summary a clinic can file: who it is about (name, date of birth), when it was made,
    page X of Y on every page, headings kept with their first rows, and the usual range beside each
    result outside it. Document title, author, subject and language are set; reportlab cannot write
    a tagged (structure-tree) PDF, so reading order is the drawing order."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import CondPageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle("Body", parent=base["BodyText"], fontName=_FONT, fontSize=9, leading=11.5)
    normal = ParagraphStyle("Lead", parent=base["Normal"], fontName=_FONT, fontSize=10, leading=13)
    title_style = ParagraphStyle("DocTitle", parent=base["Title"], fontName=_FONT + "-Bold", alignment=0)
    heading = ParagraphStyle(
        "Section", parent=base["Heading2"], fontName=_FONT + "-Bold", fontSize=13, keepWithNext=0, spaceAfter=4
    )
    name = person_name or gettext("Name not given")
    born = _long_date(birth_date) if birth_date else gettext("not given")
    made = _long_date_time(generated_at)
    footer_left = gettext("%(name)s · born %(born)s") % {"name": name, "born": born}

    class NumberedCanvas(Canvas):
        """Draws the footer once the page count is known ("page X of Y")."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(_FONT, 8)
                self.setFillColor(colors.HexColor("#4a5a60"))
                self.drawString(0.7 * inch, 0.45 * inch, footer_left[:90])
                self.drawCentredString(
                    LETTER[0] / 2, 0.45 * inch, gettext("Made %(date)s") % {"date": _long_date(generated_at)}
                )
                self.drawRightString(
                    LETTER[0] - 0.7 * inch,
                    0.45 * inch,
                    gettext("Page %(number)s of %(total)s") % {"number": number, "total": total},
                )
                super().showPage()
            super().save()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        leftMargin=0.7 * inch,
        rightMargin=0.7 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.8 * inch,
        title=gettext("Health record summary for %(name)s") % {"name": name},
        author="Homeport",
        subject=gettext("Health record summary for %(name)s, born %(born)s, made %(made)s")
        % {"name": name, "born": born, "made": made},
        creator="Homeport",
        keywords=gettext("health record summary"),
        lang="es-US" if _in_spanish() else "en-US",
        displayDocTitle=1,
    )
    as_of = (
        _long_date(summary.last_snapshot.finished_at)
        if summary.last_snapshot and summary.last_snapshot.finished_at
        else gettext("No records saved yet")
    )
    details = Table(
        [
            [_bold(gettext("Name"), normal), Paragraph(escape(name), normal)],
            [_bold(gettext("Date of birth"), normal), Paragraph(escape(born), normal)],
            [_bold(gettext("Made"), normal), Paragraph(escape(made), normal)],
            [_bold(gettext("Records as of"), normal), Paragraph(escape(as_of), normal)],
        ],
        colWidths=[1.7 * inch, 5.3 * inch],
        hAlign="LEFT",
    )
    details.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    story = [
        Paragraph(escape(gettext("Health record summary")), title_style),
        details,
        Spacer(1, 6),
        Paragraph(
            escape(
                gettext(
                    "Made by Homeport from the records your providers shared through the health networks. It lists"
                    " what they sent and may not be complete; your clinician's own record is the reference."
                )
            ),
            body,
        ),
    ]
    sections: list[tuple[str, Sequence[Item | MedicationGroup], bool]] = [
        (gettext("Allergies"), summary.allergies, False),
        (gettext("Active conditions"), summary.conditions, False),
        (gettext("Conditions whose status was not given"), summary.conditions_without_status, False),
        (gettext("Current medications"), summary.medications, False),
        (gettext("Recent results outside the usual range"), summary.abnormal, True),
        (gettext("Immunizations"), summary.immunizations, False),
        (gettext("Recent visits"), summary.encounters, False),
    ]
    for title, items, with_range in sections:
        story.append(Spacer(1, 10))
        title_para = Paragraph(escape(title), heading)
        if not items:
            story.append(CondPageBreak(0.8 * inch))
            story.append(title_para)
            story.append(Paragraph(escape(gettext("None on record.")), body))
            continue
        if with_range:
            header = [gettext("Result"), gettext("Date"), gettext("Value"), gettext("Usual range"), gettext("Source")]
            widths = [1.9 * inch, 1.0 * inch, 1.5 * inch, 1.3 * inch, 1.4 * inch]
        else:
            header = [gettext("Item"), gettext("Date"), gettext("Details"), gettext("Source")]
            widths = [2.3 * inch, 1.1 * inch, 2.1 * inch, 1.6 * inch]
        rows = []
        for it in items:
            detail = it.display.value or it.display.status
            if it.display.flag and it.display.flag.abnormal:
                detail = f"{detail} ({it.display.flag.label})"
            cells = [
                Paragraph(escape(it.display.name[:120]), body),
                Paragraph(escape(it.display.date.display if it.display.date else gettext("Date not given")), body),
                Paragraph(escape(detail[:200]), body),
            ]
            if with_range:
                cells.append(Paragraph(escape(_usual_range(it)[:80]), body))
            cells.append(Paragraph(escape(", ".join(it.sources)[:120]), body))
            rows.append(cells)
        header_cells = [Paragraph(f"<b>{escape(label)}</b>", body) for label in header]
        table = Table([header_cells, *rows], colWidths=widths, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3f1f1")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b9c6cb")),
                ]
            )
        )
        # A heading never ends a page: without room for it, the header row and a few rows, the
        # section starts on the next page; a long table then breaks, repeating its header row.
        story.append(CondPageBreak(1.9 * inch))
        story.append(title_para)
        story.append(table)
    doc.build(story, canvasmaker=NumberedCanvas)
    return out.getvalue()
