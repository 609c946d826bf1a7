"""The sandbox's MedlinePlus Connect stand-in answers in MedlinePlus's JSON shape, in both languages."""

import pytest

from records import medlineplus

pytestmark = pytest.mark.django_db

URL = "/sandbox/medlineplus/service"


def ask(client, system, code, language="en"):
    return client.get(
        URL,
        {
            "mainSearchCriteria.v.cs": system,
            "mainSearchCriteria.v.c": code,
            "informationRecipient.languageCode.c": language,
            "knowledgeResponseType": "application/json",
        },
    )


@pytest.mark.parametrize(
    ("system", "code", "english", "spanish"),
    [
        ("2.16.840.1.113883.6.90", "E11.9", "Type 2 Diabetes", "Diabetes tipo 2"),
        ("2.16.840.1.113883.6.1", "98979-8", "Kidney Tests", "Pruebas de los riñones"),
        ("2.16.840.1.113883.6.88", "314076", "Lisinopril", "Lisinopril"),
    ],
)
def test_recorded_answers_decode_with_the_portals_client(client, system, code, english, spanish):
    en = ask(client, system, code)
    es = ask(client, system, code, "es")
    assert en.status_code == es.status_code == 200
    assert medlineplus.decode(en.content)[0].title == english
    assert medlineplus.decode(es.content)[0].title == spanish
    assert es.json()["feed"]["lang"] == "es"


def test_an_unknown_code_answers_an_empty_feed(client):
    response = ask(client, "2.16.840.1.113883.6.1", "0000-0")
    assert response.status_code == 200
    assert response.json()["feed"]["entry"] == []


def test_missing_criteria_are_a_400(client):
    assert client.get(URL).status_code == 400
