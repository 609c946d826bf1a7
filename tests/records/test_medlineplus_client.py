"""The MedlinePlus Connect client: what goes out (a code, never a person), and every answer shape."""

import httpx
import orjson
import pytest

from records import medlineplus

LINK = "https://medlineplus.gov/diabetestype2.html?utm_source=mplusconnect&utm_medium=service"


def feed(*entries) -> bytes:
    return orjson.dumps({"feed": {"base": "https://medlineplus.gov/", "lang": "en", "entry": list(entries)}})


def entry(title="Type 2 Diabetes", href=LINK, summary="<p>Blood sugar is too high.</p>") -> dict:
    return {
        "title": {"_value": title, "type": "text"},
        "link": [{"href": href, "rel": "alternate"}],
        "summary": {"type": "html", "_value": summary},
    }


def transport_answering(status=200, body=b"", seen=None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=body)

    return httpx.MockTransport(handler)


def test_several_topics_decoded_in_order_and_capped_at_three():
    topics = medlineplus.decode(feed(*(entry(title=f"Topic {n}") for n in range(5))))
    assert [t.title for t in topics] == ["Topic 0", "Topic 1", "Topic 2"]
    assert topics[0].url == LINK


def test_a_single_entry_object_and_a_single_link_object_are_accepted():
    one = entry()
    one["link"] = {"href": LINK}
    raw = orjson.dumps({"feed": {"entry": one}})
    assert [t.title for t in medlineplus.decode(raw)] == ["Type 2 Diabetes"]


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps({"feed": {"entry": []}}),
        orjson.dumps({"feed": {}}),
        orjson.dumps({}),
        orjson.dumps({"feed": {"entry": [{"title": {"_value": "No link"}}]}}),
        orjson.dumps({"feed": {"entry": [{"link": [{"href": LINK}]}]}}),
    ],
    ids=["empty", "no-entry", "no-feed", "entry-without-link", "entry-without-title"],
)
def test_answers_with_nothing_usable_give_no_topics(raw):
    assert medlineplus.decode(raw) == []


@pytest.mark.parametrize(
    "href",
    ["http://medlineplus.gov/x.html", "https://evil.example/medlineplus.gov", "javascript:alert(1)", ""],
)
def test_only_https_medlineplus_links_are_kept(href):
    assert medlineplus.decode(feed(entry(href=href))) == []


def test_summaries_keep_text_and_safe_markup_only():
    hostile = (
        '<h3>What?</h3><p onclick="x()">Text <a href="javascript:alert(1)">bad</a> '
        '<a href="https://medlineplus.gov/a1c.html">good</a></p><script>alert(1)</script><img src=x onerror=y>'
    )
    [topic] = medlineplus.decode(feed(entry(summary=hostile)))
    assert "<script" not in topic.summary_html and "onclick" not in topic.summary_html
    assert "onerror" not in topic.summary_html and "<img" not in topic.summary_html
    assert "javascript:" not in topic.summary_html
    assert '<a href="https://medlineplus.gov/a1c.html"' in topic.summary_html
    assert "<h3>What?</h3>" in topic.summary_html


@pytest.mark.parametrize("raw", [b"<html>not json</html>", b"[1, 2]", b'{"feed": {"entry": "x"}}'])
def test_malformed_answers_are_unavailable(raw):
    with pytest.raises(medlineplus.Unavailable):
        medlineplus.decode(raw)


def test_only_the_code_system_the_code_and_the_language_go_out(settings):
    settings.MEDLINEPLUS_CONNECT_URL = "https://connect.medlineplus.gov/service"
    seen: list[httpx.Request] = []
    topics = medlineplus.topics_fetch(
        system=medlineplus.ICD10CM,
        code="E11.9",
        language="es",
        transport=transport_answering(body=feed(entry()), seen=seen),
    )
    assert [t.title for t in topics] == ["Type 2 Diabetes"]
    [request] = seen
    assert request.url.host == "connect.medlineplus.gov"
    assert dict(request.url.params) == {
        "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.90",
        "mainSearchCriteria.v.c": "E11.9",
        "informationRecipient.languageCode.c": "es",
        "knowledgeResponseType": "application/json",
    }
    assert "cookie" not in request.headers and "authorization" not in request.headers


@pytest.mark.parametrize("status", [404, 429, 500, 503, 302])
def test_non_200_answers_are_unavailable(status):
    with pytest.raises(medlineplus.Unavailable):
        medlineplus.topics_fetch(
            system=medlineplus.LOINC, code="4548-4", language="en", transport=transport_answering(status, feed(entry()))
        )


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_transport_failures_are_unavailable(error):
    def handler(request):
        raise error

    with pytest.raises(medlineplus.Unavailable):
        medlineplus.topics_fetch(
            system=medlineplus.LOINC, code="4548-4", language="en", transport=httpx.MockTransport(handler)
        )


@pytest.mark.parametrize(
    ("system", "code", "language"),
    [("http://hl7.org/fhir/sid/cvx", "140", "en"), (medlineplus.LOINC, "", "en"), (medlineplus.LOINC, "1", "fr")],
)
def test_requests_medlineplus_cannot_answer_are_not_sent(system, code, language):
    seen: list[httpx.Request] = []
    with pytest.raises(medlineplus.Unavailable):
        medlineplus.topics_fetch(
            system=system, code=code, language=language, transport=transport_answering(body=feed(), seen=seen)
        )
    assert seen == []
