"""Explanations are kept per code and language, stay within MedlinePlus's limit, and can be switched off."""

import time

import httpx
import orjson
import pytest

from records import explanations, medlineplus
from records.models import Explanation, ExplanationSetting

pytestmark = pytest.mark.django_db


class CountingTransport(httpx.MockTransport):
    def __init__(self, status=200, titles=("Type 2 Diabetes",)):
        self.calls = 0
        body = orjson.dumps(
            {
                "feed": {
                    "entry": [
                        {"title": {"_value": t}, "link": [{"href": "https://medlineplus.gov/t.html"}]} for t in titles
                    ]
                }
            }
        )

        def handler(request):
            self.calls += 1
            return httpx.Response(status, content=body)

        super().__init__(handler)


def ask(transport, code="E11.9", language="en", system=medlineplus.ICD10CM):
    return explanations.explanation_get(system=system, code=code, language=language, transport=transport)


def test_a_code_is_asked_once_per_language():
    transport = CountingTransport()
    first = ask(transport)
    second = ask(transport)
    assert first.state == second.state == explanations.STATE_FOUND
    assert [t.title for t in second.topics] == ["Type 2 Diabetes"]
    assert transport.calls == 1
    ask(transport, language="es")
    assert transport.calls == 2
    assert Explanation.objects.count() == 2


def test_no_topics_is_kept_too():
    transport = CountingTransport(titles=())
    assert ask(transport).state == explanations.STATE_NONE
    assert ask(transport).state == explanations.STATE_NONE
    assert transport.calls == 1


def test_failures_are_not_kept_so_the_next_visit_asks_again():
    failing = CountingTransport(status=503)
    assert ask(failing).state == explanations.STATE_UNAVAILABLE
    assert Explanation.objects.count() == 0
    working = CountingTransport()
    assert ask(working).state == explanations.STATE_FOUND


def test_a_kept_answer_older_than_the_cache_days_is_asked_again(settings):
    transport = CountingTransport()
    ask(transport)
    Explanation.objects.update(fetched_at="2000-01-01T00:00:00Z")
    ask(transport)
    assert transport.calls == 2


def test_the_shared_budget_stops_requests_past_the_limit(settings):
    settings.MEDLINEPLUS_REQUESTS_PER_MINUTE = 3
    transport = CountingTransport()
    states = [ask(transport, code=f"E11.{n}").state for n in range(5)]
    assert states == [explanations.STATE_FOUND] * 3 + [explanations.STATE_UNAVAILABLE] * 2
    assert transport.calls == 3
    assert ask(transport, code="E11.0").state == explanations.STATE_FOUND  # kept answers need no budget
    assert transport.calls == 3


def test_the_budget_frees_up_after_a_minute(settings):
    settings.MEDLINEPLUS_REQUESTS_PER_MINUTE = 2
    transport = CountingTransport()
    ask(transport, code="A")
    ask(transport, code="B")
    assert ask(transport, code="C").state == explanations.STATE_UNAVAILABLE
    ExplanationSetting.objects.update(recent_calls=[time.time() - 61, time.time() - 61])
    assert ask(transport, code="C").state == explanations.STATE_FOUND


def test_staff_can_switch_it_off():
    transport = CountingTransport()
    explanations.explanation_setting_save(enabled=False)
    assert ask(transport).state == explanations.STATE_OFF
    assert transport.calls == 0
    explanations.explanation_setting_save(enabled=True)
    assert ask(transport).state == explanations.STATE_FOUND


def test_vaccines_get_medlineplus_immunization_topic_without_a_request():
    transport = CountingTransport()
    result = ask(transport, system="http://hl7.org/fhir/sid/cvx", code="140", language="es")
    assert result.state == explanations.STATE_FOUND
    assert result.topics[0].url == "https://medlineplus.gov/spanish/immunization.html"
    assert transport.calls == 0


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            {
                "resourceType": "Condition",
                "code": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "44054006"},
                        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"},
                    ]
                },
            },
            ("http://hl7.org/fhir/sid/icd-10-cm", "E11.9"),
        ),
        (
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
            },
            ("http://snomed.info/sct", "44054006"),
        ),
        (
            {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]}},
            ("http://loinc.org", "4548-4"),
        ),
        (
            {
                "resourceType": "MedicationRequest",
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076"}]
                },
            },
            ("http://www.nlm.nih.gov/research/umls/rxnorm", "314076"),
        ),
        (
            {
                "resourceType": "Immunization",
                "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
            },
            ("http://hl7.org/fhir/sid/cvx", "140"),
        ),
        ({"resourceType": "Observation", "code": {"text": "Smoking status"}}, None),
        ({"resourceType": "Patient"}, None),
    ],
    ids=["icd-first", "snomed", "loinc", "rxnorm", "cvx", "text-only", "patient"],
)
def test_which_code_explains_an_item(resource, expected):
    assert explanations.explainable_code(resource) == expected
