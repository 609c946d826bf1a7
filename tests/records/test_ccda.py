"""Reading a C-CDA: sections and narrative become safe HTML; hostile documents are refused or defused."""

import re

import pytest

from records.ccda import CcdaUnreadable, ccda_read, narrative_html
from sandbox.generator import ccda_document

HEAD = '<?xml version="1.0"?>\n'


def cda(narrative: str, *, title: str = "Visit summary", section: str = "Plan") -> bytes:
    return (
        f'{HEAD}<ClinicalDocument xmlns="urn:hl7-org:v3"><title>{title}</title>'
        '<effectiveTime value="20210304093000-0500"/>'
        f"<component><structuredBody><component><section><title>{section}</title>"
        f"<text>{narrative}</text></section></component></structuredBody></component></ClinicalDocument>"
    ).encode()


def only_section(data: bytes) -> str:
    doc = ccda_read(data)
    assert len(doc.sections) == 1
    return doc.sections[0].html


def test_title_date_and_every_section_of_a_generated_ccd():
    doc = ccda_read(ccda_document(title="Continuity of Care Document", day="2021-03-04", patient="A", author="B"))
    assert doc.title == "Continuity of Care Document" and doc.date_text == "2021-03-04"
    titles = [s.title for s in doc.sections]
    assert titles == [
        "Allergies and Adverse Reactions",
        "Problems",
        "Medications",
        "Results",
        "Social History",
        "Plan of Treatment",
    ]
    allergies = doc.sections[0].html
    assert "<table>" in allergies and "<caption>Allergies</caption>" in allergies
    assert "<th>Substance</th>" in allergies and '<span class="cda-bold">Moderate</span>' in allergies
    problems = doc.sections[1].html
    assert problems.startswith('<p class="cda-caption">Active problems</p><ol><li>')
    assert "<ul><li>Last HbA1c 7.2 %</li>" in problems
    assert "<br>" in doc.sections[4].html


def test_paragraph_list_content_and_table_cells_map_to_html():
    html = only_section(
        cda(
            '<paragraph>Take <content styleCode="Bold Underline">twice</content> daily.</paragraph>'
            '<list listType="unordered"><item>one</item><item>two</item></list>'
            '<table><tbody><tr><td colspan="2" rowspan="x">a &amp; b</td></tr></tbody></table>'
            "<paragraph>H<sub>2</sub>O 10<sup>9</sup></paragraph>"
        )
    )
    assert '<p>Take <span class="cda-bold cda-underline">twice</span> daily.</p>' in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert '<td colspan="2">a &amp; b</td>' in html
    assert "<sub>2</sub>" in html and "<sup>9</sup>" in html


def test_a_section_title_falls_back_to_its_code_and_nested_sections_are_kept():
    data = (
        f'{HEAD}<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section>'
        '<code code="10160-0" displayName="Medications"/><text>x</text>'
        "<component><section><title>Inner</title><text>y</text></section></component>"
        "</section></component></structuredBody></component></ClinicalDocument>"
    ).encode()
    doc = ccda_read(data)
    assert [(s.title, s.level) for s in doc.sections] == [("Medications", 1), ("Inner", 2)]


def test_script_and_style_are_dropped_with_their_content():
    html = only_section(
        cda(
            '<paragraph>ok<script xmlns="http://www.w3.org/1999/xhtml">alert(1)</script></paragraph>'
            "<style>p{color:red}</style><script>steal()</script>"
        )
    )
    assert "alert" not in html and "steal" not in html and "color:red" not in html and "<script" not in html
    assert "<p>ok</p>" in html


def test_event_handlers_ids_and_styles_never_reach_the_page():
    html = only_section(
        cda(
            '<paragraph onclick="alert(1)" ID="p1" style="x">a</paragraph>'
            '<content onmouseover="alert(2)" styleCode="Bold javascript">b</content>'
            '<table onload="x" border="1"><tr><td onfocus="y">c</td></tr></table>'
        )
    )
    assert re.search(r"\son\w*=", html) is None
    assert "alert" not in html and 'id="' not in html and "style=" not in html and "border" not in html


@pytest.mark.parametrize(
    "href",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x"],
)
def test_unsafe_links_lose_their_href(href):
    html = only_section(cda(f'<paragraph><linkHtml href="{href.replace("<", "&lt;")}">click</linkHtml></paragraph>'))
    assert "href" not in html and "click" in html


def test_safe_links_are_kept_with_noopener():
    html = only_section(
        cda('<paragraph><linkHtml href="https://example.org/a?b=1&amp;c=2">info</linkHtml></paragraph>')
    )
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">info</a>' in html


def test_html_in_text_is_escaped_not_parsed():
    html = only_section(cda("<paragraph>&lt;img src=x onerror=alert(1)&gt;</paragraph>"))
    assert "<img" not in html and "&lt;img" in html


def test_unknown_elements_are_unwrapped_to_their_text():
    html = only_section(cda('<paragraph><iframe src="https://evil.example">x</iframe><blink>kept</blink></paragraph>'))
    assert "iframe" not in html and "blink" not in html and "kept" in html and "evil" not in html


def test_external_entities_are_refused():
    data = (
        b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>'
    )
    with pytest.raises(CcdaUnreadable):
        ccda_read(data)


def test_entity_expansion_is_refused():
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    data = (
        f'<?xml version="1.0"?><!DOCTYPE ClinicalDocument [{entities}]>'
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&j;</title></ClinicalDocument>'
    ).encode()
    with pytest.raises(CcdaUnreadable):
        ccda_read(data)


def test_a_network_dtd_is_never_fetched():
    data = (
        b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/cda.dtd">'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>x</title></ClinicalDocument>'
    )
    with pytest.raises(CcdaUnreadable):
        ccda_read(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml", b"<html><body>x</body></html>", b"<ClinicalDocument>", b"\xff\xfe<x/>"],
)
def test_what_is_not_a_clinical_document_is_refused(data):
    with pytest.raises(CcdaUnreadable):
        ccda_read(data)


def test_a_document_without_namespace_is_read():
    data = (
        b"<ClinicalDocument><title>T</title><component><structuredBody><component><section><title>S</title>"
        b"<text><paragraph>p</paragraph></text></section></component></structuredBody></component></ClinicalDocument>"
    )
    doc = ccda_read(data)
    assert doc.title == "T" and doc.sections[0].html == "<p>p</p>"


def test_narrative_html_of_an_empty_text_is_empty():
    from lxml import etree

    assert narrative_html(etree.fromstring(b"<text/>")) == ""
