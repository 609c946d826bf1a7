"""Documents as files a person can keep: a name that says what it is, and the right extension."""

from __future__ import annotations

import re

EXTENSIONS = {
    "application/pdf": "pdf",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/hl7-v3+xml": "xml",
    "text/plain": "txt",
    "text/html": "html",
    "text/rtf": "rtf",
    "application/rtf": "rtf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "application/json": "json",
    "application/fhir+json": "json",
}
XML_TYPES = {"application/xml", "text/xml", "application/hl7-v3+xml"}
_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def document_file_name(*, title: str, date_text: str, content_type: str) -> str:
    """E.g. "discharge-summary-2021-03-04.pdf": the title as a slug, the date once, the extension.

    ASCII only, so the name is the same in every browser and needs no escaping in a header.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-") or "document"
    day = date_text[:10] if _DATE.fullmatch(date_text[:10]) else ""
    if day and day not in slug:
        slug = f"{slug}-{day}"
    extension = EXTENSIONS.get(content_type.split(";")[0].strip().lower(), "bin")
    if slug.endswith(f"-{extension}"):
        slug = slug[: -len(extension) - 1]
    return f"{slug}.{extension}"


def is_ccda(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in XML_TYPES


_KIND_LABELS = {"pdf": "PDF", "xml": "Clinical document (C-CDA)", "txt": "Text", "html": "Web page", "png": "Image"}


def kind_label(content_type: str) -> str:
    """What a person would call the file: "PDF", "Clinical document (C-CDA)"..."""
    extension = EXTENSIONS.get(content_type.split(";")[0].strip().lower(), "")
    return _KIND_LABELS.get(extension, extension.upper())


_FILE_NAME = re.compile(r"^[\w.-]+\.[A-Za-z0-9]{2,5}$")


def attachment_label(*, title: str, fallback: str) -> str:
    """What to call an attachment: its title, unless that is only a machine file name."""
    title = title.strip()
    if not title or (_FILE_NAME.match(title) and "_" in title):
        return fallback or "Document"
    return title
