"""Section 1 (patients), API keys, RFC 7807 errors and rate limits."""

import pytest

from tests.sandbox.conftest import DEMOGRAPHICS


def problem(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["name"] and body["detail"]
    if field is not None:
        assert body["field"] == field
        assert field.split("[")[0].split(".")[0] in body["detail"] or field in body["detail"]
    return body


def test_create_answers_201_with_the_network_fields(api):
    response = api.post("/medical/v1/patient?facilityId=fac_1", DEMOGRAPHICS)
    assert response.status_code == 201
    body = response.json()
    assert body["id"] and body["facilityIds"] == ["fac_1"] and body["eTag"] and body["dateCreated"].endswith("Z")
    assert body["externalId"] == "hp-user-1"
    assert body["firstName"] == "Jane" and body["address"][0]["country"] == "USA"


def test_the_api_key_is_required(api):
    api.key = ""
    problem(api.post("/medical/v1/patient?facilityId=fac_1", DEMOGRAPHICS), 401, "x-api-key")
    api.key = "wrong"
    problem(api.get("/medical/v1/patient/anything"), 401, "x-api-key")
    problem(api.get("/settings/webhook"), 401)


def test_facility_id_is_required(api):
    problem(api.post("/medical/v1/patient", DEMOGRAPHICS), 400, "facilityId")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"firstName": ""}, "firstName"),
        ({"lastName": None}, "lastName"),
        ({"dob": "12/04/1968"}, "dob"),
        ({"dob": "1968-02-30"}, "dob"),
        ({"dob": "2999-01-01"}, "dob"),
        ({"genderAtBirth": "X"}, "genderAtBirth"),
        ({"address": []}, "address"),
        (
            {"address": [{"addressLine1": "1 A", "city": "B", "state": "ZZ", "zip": "62704"}]},
            "address[0].state",
        ),
        ({"address": [{"addressLine1": "1 A", "city": "B", "state": "IL", "zip": "6270"}]}, "address[0].zip"),
        ({"address": [{"city": "B", "state": "IL", "zip": "62704"}]}, "address[0].addressLine1"),
        ({"contact": [{"phone": "555"}]}, "contact[0].phone"),
        ({"contact": [{}]}, "contact[0]"),
        ({"personalIdentifiers": [{"type": "passport", "value": "1"}]}, "personalIdentifiers[0].type"),
    ],
)
def test_invalid_bodies_name_the_bad_field(api, change, field):
    problem(api.post("/medical/v1/patient?facilityId=fac_1", {**DEMOGRAPHICS, **change}), 400, field)


def test_a_body_that_is_not_json_is_refused(api):
    problem(api.post("/medical/v1/patient?facilityId=fac_1", raw="{nope"), 400, "body")


def test_get_update_delete(api, make_patient):
    patient = make_patient()
    path = f"/medical/v1/patient/{patient['id']}"
    assert api.get(path).json()["id"] == patient["id"]
    updated = api.put(f"{path}?facilityId=fac_test", {**DEMOGRAPHICS, "firstName": "Janet"})
    assert updated.status_code == 200
    assert updated.json()["firstName"] == "Janet" and updated.json()["eTag"] != patient["eTag"]
    problem(api.put(path, DEMOGRAPHICS), 400, "facilityId")
    problem(api.put(f"{path}?facilityId=fac_test", {**DEMOGRAPHICS, "zip": None, "address": [{}]}), 400)
    assert api.delete(f"{path}?facilityId=fac_test").status_code == 204
    problem(api.get(path), 404)


def test_unknown_patients_are_404(api):
    problem(api.get("/medical/v1/patient/does-not-exist"), 404)
    problem(api.put("/medical/v1/patient/does-not-exist?facilityId=f", DEMOGRAPHICS), 404)
    problem(api.delete("/medical/v1/patient/does-not-exist?facilityId=f"), 404)


def test_wrong_method_is_405(api):
    problem(api.get("/medical/v1/patient"), 405)


def test_personas_follow_the_demographics(api, make_patient):
    from sandbox.models import Patient

    assert Patient.objects.get(pk=make_patient()["id"]).persona == "ordinary"
    large = Patient.objects.get(pk=make_patient(firstName="Pat", lastName="Large")["id"])
    assert large.persona == "large" and large.record_size == 50_000
    assert (
        Patient.objects.get(pk=make_patient(firstName="Pat", lastName="Pharmacyfail")["id"]).persona == "pharmacyfail"
    )


def test_rate_limit_answers_429_with_ratelimit_headers(api, settings):
    settings.SANDBOX_RATE_LIMITS = "patient=2"
    first = api.post("/medical/v1/patient?facilityId=f", DEMOGRAPHICS)
    assert first.status_code == 201
    assert first["RateLimit-Limit"] == "2" and first["RateLimit-Remaining"] == "1"
    assert api.post("/medical/v1/patient?facilityId=f", DEMOGRAPHICS).status_code == 201
    third = api.post("/medical/v1/patient?facilityId=f", DEMOGRAPHICS)
    problem(third, 429)
    assert third["RateLimit-Remaining"] == "0"
    assert 1 <= int(third["RateLimit-Reset"]) <= 60 and third["Retry-After"] == third["RateLimit-Reset"]
