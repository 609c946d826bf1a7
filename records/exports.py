"""The person's record leaving Homeport in their hands: FHIR Bundle JSON, NDJSON per type, PDF summary."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Iterator

from records.selectors import Summary, record_iter_resources


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
        current, out = None, None
        for kind, data in record_iter_resources(user_id=user_id):
            if kind != current:
                if out is not None:
                    out.close()
                current = kind
                out = archive.open(f"{kind}.ndjson", "w")
            out.write(data + b"\n")
        if out is not None:
            out.close()
    handle.seek(0)
    return handle


def summary_pdf(*, summary: Summary, person) -> bytes:
    """A printable one-document summary, drawn with reportlab's platypus."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        leftMargin=0.7 * inch,
        rightMargin=0.7 * inch,
        title="Health record summary",
        author="Homeport",
    )
    story = [Paragraph("Health record summary", styles["Title"])]
    name = getattr(person, "full_name", "") or getattr(person, "email", "")
    story.append(
        Paragraph(escape(f"For {name}. Made by Homeport from the records your providers shared."), styles["Normal"])
    )
    sections = [
        ("Allergies", summary.allergies),
        ("Active conditions", summary.conditions),
        ("Conditions whose status was not given", summary.conditions_without_status),
        ("Current medications", summary.medications),
        ("Recent results outside the normal range", summary.abnormal),
        ("Immunizations", summary.immunizations),
        ("Recent visits", summary.encounters),
    ]
    for title, items in sections:
        story.append(Spacer(1, 10))
        story.append(Paragraph(escape(title), styles["Heading2"]))
        if not items:
            story.append(Paragraph("None on record.", styles["Normal"]))
            continue
        rows = [["Item", "Date", "Details", "Source"]]
        for it in items:
            detail = it.display.value or it.display.status
            if it.display.flag and it.display.flag.abnormal:
                detail = f"{detail} ({it.display.flag.label})"
            rows.append(
                [
                    Paragraph(escape(it.display.name[:120]), styles["BodyText"]),
                    escape(it.display.date.display if it.display.date else "Date not given"),
                    Paragraph(escape(detail[:200]), styles["BodyText"]),
                    Paragraph(escape(", ".join(it.sources)[:120]), styles["BodyText"]),
                ]
            )
        table = Table(rows, colWidths=[2.2 * inch, 1.2 * inch, 2.0 * inch, 1.6 * inch], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3f1f1")),
                    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("FONTSIZE", (0, 0), (-1, -1), 9),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d8e0e3")),
                ]
            )
        )
        story.append(table)
    doc.build(story)
    return out.getvalue()
