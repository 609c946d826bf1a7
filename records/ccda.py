"""A C-CDA document as a page a person can read: its title and its sections' narrative, never raw XML.

The narrative block of a CDA section (`<text>`) is its own small markup language. Each element is
converted through an allow-list to the HTML element that means the same (paragraph -> p, list ->
ul/ol, content -> span, linkHtml -> a, tables as tables); anything else is unwrapped to its text,
scripts and styles are dropped with their content, and the result is sanitised again with nh3.
The parser never resolves entities, reads a DTD or goes to the network, and a document that carries
a DTD at all is refused, so external entities (XXE) and entity expansion ("billion laughs") fail.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import nh3
from lxml import etree

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_SECTIONS = 200

# CDA narrative element -> HTML element.
_ELEMENTS = {
    "paragraph": "p",
    "content": "span",
    "caption": "caption",
    "table": "table",
    "thead": "thead",
    "tbody": "tbody",
    "tfoot": "tfoot",
    "tr": "tr",
    "th": "th",
    "td": "td",
    "colgroup": "colgroup",
    "col": "col",
    "item": "li",
    "br": "br",
    "sub": "sub",
    "sup": "sup",
    "linkHtml": "a",
    "footnote": "small",
}
_VOID = {"br", "col"}
_DROPPED = {"script", "style", "renderMultiMedia", "footnoteRef", "iframe", "object", "embed"}
# styleCode values (CDA R2 narrative) -> CSS classes of ours.
_STYLE_CLASSES = {
    "bold": "cda-bold",
    "italics": "cda-italic",
    "underline": "cda-underline",
    "emphasis": "cda-italic",
    "lrule": "cda-rule",
    "rrule": "cda-rule",
    "toprule": "cda-rule",
    "botrule": "cda-rule",
}
_SANITISER_TAGS = {
    "p", "span", "caption", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col",
    "ul", "ol", "li", "br", "sub", "sup", "a", "small", "strong", "em",
}  # fmt: skip
_SANITISER_ATTRIBUTES = {
    "*": {"class"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "a": {"href"},
}


class CcdaUnreadable(ValueError):
    """The bytes are not a C-CDA document this module will read (not XML, a DTD, too large...)."""


@dataclass(frozen=True)
class CcdaSection:
    title: str
    html: str  # sanitised; safe to mark safe in a template
    level: int = 1


@dataclass(frozen=True)
class CcdaDocument:
    title: str
    date_text: str
    sections: list[CcdaSection]


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return etree.QName(tag).localname


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child) == name:
            return child
    return None


def _text_of(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _classes(element: etree._Element) -> str:
    codes = (element.get("styleCode") or "").split()
    return " ".join(sorted({_STYLE_CLASSES[c.lower()] for c in codes if c.lower() in _STYLE_CLASSES}))


def _safe_href(value: str) -> str:
    href = value.strip()
    return href if href.lower().startswith(("https://", "http://")) else ""


def _span_attribute(element: etree._Element, name: str) -> str:
    value = (element.get(name) or "").strip()
    return f' {name}="{value}"' if value.isdigit() and 0 < int(value) < 100 else ""


def _convert(element: etree._Element, out: list[str]) -> None:
    """Append the HTML for one narrative element (and its tail text) to `out`."""
    name = _local(element)
    if name in _DROPPED or not name:
        if element.tail:
            out.append(html.escape(element.tail))
        return
    tag = _ELEMENTS.get(name)
    if name == "list":
        tag = "ol" if (element.get("listType") or "").lower() == "ordered" else "ul"
    attributes = ""
    if tag:
        css = _classes(element)
        if css:
            attributes += f' class="{css}"'
        if tag in ("td", "th"):
            attributes += _span_attribute(element, "colspan") + _span_attribute(element, "rowspan")
        if tag == "a":
            href = _safe_href(element.get("href") or "")
            if not href:
                tag = "span"
            else:
                attributes += f' href="{html.escape(href, quote=True)}"'
    if tag == "ol" or tag == "ul":
        caption = _child(element, "caption")
        if caption is not None:
            out.append(f'<p class="cda-caption">{html.escape(_text_of(caption))}</p>')
    if tag:
        out.append(f"<{tag}{attributes}>")
    if tag not in _VOID:
        if element.text:
            out.append(html.escape(element.text))
        for child in element:
            if tag in ("ol", "ul") and _local(child) == "caption":
                if child.tail:
                    out.append(html.escape(child.tail))
                continue
            _convert(child, out)
        if tag:
            out.append(f"</{tag}>")
    if element.tail:
        out.append(html.escape(element.tail))


def narrative_html(text_element: etree._Element) -> str:
    """A section's `<text>` as sanitised HTML."""
    out: list[str] = []
    if text_element.text:
        out.append(html.escape(text_element.text))
    for child in text_element:
        _convert(child, out)
    return nh3.clean(
        "".join(out),
        tags=_SANITISER_TAGS,
        attributes=_SANITISER_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def _parse(data: bytes) -> etree._Element:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CcdaUnreadable("document too large")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise CcdaUnreadable("not well-formed XML") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CcdaUnreadable("documents with a DTD are not read")
    if _local(root) != "ClinicalDocument":
        raise CcdaUnreadable("not a clinical document")
    return root


def _sections(parent: etree._Element, level: int, found: list[CcdaSection]) -> None:
    for component in parent:
        if _local(component) != "component":
            continue
        section = _child(component, "section")
        if section is None or len(found) >= MAX_SECTIONS:
            continue
        title = _text_of(_child(section, "title"))
        if not title:
            code = _child(section, "code")
            title = (code.get("displayName") or "").strip() if code is not None else ""
        text = _child(section, "text")
        body = narrative_html(text) if text is not None else ""
        found.append(CcdaSection(title=title[:300] or "Section", html=body, level=min(level, 3)))
        _sections(section, level + 1, found)


def ccda_read(data: bytes) -> CcdaDocument:
    """Title, date and sections of a C-CDA document; raises CcdaUnreadable when it cannot be read."""
    root = _parse(data)
    effective = _child(root, "effectiveTime")
    stamp = (effective.get("value") or "") if effective is not None else ""
    date_text = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 and stamp[:8].isdigit() else ""
    sections: list[CcdaSection] = []
    component = _child(root, "component")
    body = _child(component, "structuredBody") if component is not None else None
    if body is not None:
        _sections(body, 1, sections)
    return CcdaDocument(title=_text_of(_child(root, "title"))[:300], date_text=date_text, sections=sections)


LOINC_OID = "2.16.840.1.113883.6.1"


@dataclass(frozen=True)
class CcdaHeader:
    """What a document list needs to name a C-CDA document: no section is read."""

    title: str
    date_text: str
    type_code: str  # LOINC, when the document's code is LOINC
    type_name: str
    organization: str  # the custodian, else the first author's organization


def _path_text(element: etree._Element | None, *names: str) -> str:
    for name in names:
        if element is None:
            return ""
        element = _child(element, name)
    return _text_of(element)


def ccda_header(data: bytes) -> CcdaHeader:
    """The header of a C-CDA document; raises CcdaUnreadable as `ccda_read` does."""
    root = _parse(data)
    effective = _child(root, "effectiveTime")
    stamp = (effective.get("value") or "") if effective is not None else ""
    date_text = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 and stamp[:8].isdigit() else ""
    code = _child(root, "code")
    type_code = ""
    type_name = ""
    if code is not None:
        type_name = " ".join((code.get("displayName") or "").split())[:200]
        if (code.get("codeSystem") or "") == LOINC_OID:
            type_code = (code.get("code") or "").strip()[:32]
    organization = _path_text(
        _child(root, "custodian"), "assignedCustodian", "representedCustodianOrganization", "name"
    ) or _path_text(_child(root, "author"), "assignedAuthor", "representedOrganization", "name")
    return CcdaHeader(
        title=_text_of(_child(root, "title"))[:300],
        date_text=date_text,
        type_code=type_code,
        type_name=type_name,
        organization=organization[:255],
    )
