"""Export: everything Homeport holds about the person, one zip, behind a fresh sign-in, logged."""

import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import AccessLogEntry
from accounts.services import consent_record
from tests.security.bundles import ingest_for, person_bundle

pytestmark = pytest.mark.django_db

EXPECTED_FILES = {
    "README.txt",
    "record/bundle.json",
    "record/resources.ndjson",
    "network.json",
    "consents.json",
    "access-log.ndjson",
    "account.json",
}


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="homeport-export-')
    assert "no-store" in response["Cache-Control"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_export_page_explains_the_download(client_mfa):
    response = client_mfa.get(reverse("account_export"))
    assert response.status_code == 200
    assert b"Download my data (.zip)" in response.content


def test_download_needs_recent_reauthentication(client_mfa_earlier):
    response = client_mfa_earlier.post(reverse("account_export"))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("mfa_reauthenticate")
    assert "next=%2Faccount%2Fexport%2F" in location.query


def test_stale_reauthentication_is_not_enough(client_mfa_earlier, reauth):
    import time

    reauth(client_mfa_earlier, at=time.time() - 3600)
    response = client_mfa_earlier.post(reverse("account_export"))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("mfa_reauthenticate")


def test_export_holds_everything_and_only_mine(client_mfa, mfa_user, other_user, reauth, tmp_path):
    ingest_for(user_id=mfa_user.pk, bundle=person_bundle(label="Mine-Asthma"), tmp_path=tmp_path, name="a.json")
    ingest_for(user_id=other_user.pk, bundle=person_bundle(label="Theirs-Gout"), tmp_path=tmp_path, name="b.json")
    consent_record(user=mfa_user, notice_version=settings.PRIVACY_NOTICE_VERSION, ip="203.0.113.5")
    reauth(client_mfa)
    archive = _zip(client_mfa.post(reverse("account_export")))
    assert set(archive.namelist()) == EXPECTED_FILES
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"Mine-Asthma" in everything
    assert b"Theirs-Gout" not in everything
    assert other_user.email.encode() not in everything

    bundle = json.loads(archive.read("record/bundle.json"))
    assert bundle["resourceType"] == "Bundle"
    types = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Condition", "Observation"} <= types
    lines = archive.read("record/resources.ndjson").decode().splitlines()
    assert len(lines) == len(bundle["entry"])
    assert all(json.loads(line)["resourceType"] for line in lines)

    consents = json.loads(archive.read("consents.json"))
    assert consents[0]["notice_version"] == settings.PRIVACY_NOTICE_VERSION
    assert consents[0]["given_ip"] == "203.0.113.5"

    account = json.loads(archive.read("account.json"))
    assert account["email"] == mfa_user.email
    assert [factor["type"] for factor in account["second_factors"]] == ["totp"]
    assert mfa_user.totp_secret.encode() not in everything

    network = json.loads(archive.read("network.json"))
    assert "queries" in network
    readme = archive.read("README.txt").decode()
    for name in EXPECTED_FILES - {"README.txt"}:
        assert name in readme


def test_export_includes_demographics_sent_and_query_history(client_mfa, mfa_user, reauth):
    from accounts.crypto import encrypt_text
    from ias.models import NetworkPatient, NetworkQuery

    NetworkPatient.objects.create(
        user=mfa_user,
        patient_id="np-123",
        facility_id="fac",
        demographics_encrypted=encrypt_text(json.dumps({"firstName": "Mia", "dob": "1980-01-01"})),
    )
    NetworkQuery.objects.create(user=mfa_user, request_id="req-9", status=NetworkQuery.Status.COMPLETED)
    reauth(client_mfa)
    network = json.loads(_zip(client_mfa.post(reverse("account_export"))).read("network.json"))
    assert network["patient"]["demographics_sent"]["firstName"] == "Mia"
    assert network["queries"][0]["request_id"] == "req-9"


def test_export_is_logged_in_access_log(client_mfa, mfa_user, reauth):
    reauth(client_mfa)
    archive = _zip(client_mfa.post(reverse("account_export"), REMOTE_ADDR="192.0.2.44"))
    entry = AccessLogEntry.objects.get(subject=mfa_user, action="export")
    assert entry.actor == mfa_user
    assert entry.ip == "192.0.2.44"
    assert entry.target == "account:export"
    assert archive.read("README.txt")


def test_full_reauthentication_flow_resumes_the_download(client_mfa_earlier, mfa_user):
    """Through allauth's own reauthenticate page: the suspended POST is replayed after the second
    factor (a person with a factor re-checks with it, not with the password: issue 12)."""
    from tests.helpers import totp_now

    first = client_mfa_earlier.post(reverse("account_export"))
    reauth_url = first["Location"]
    response = client_mfa_earlier.post(reauth_url, {"code": totp_now(mfa_user.totp_secret)})
    archive = _zip(response)
    assert "README.txt" in archive.namelist()


def test_wrong_password_gives_no_download(client_mfa_earlier):
    reauth_url = client_mfa_earlier.post(reverse("account_export"))["Location"]
    response = client_mfa_earlier.post(reauth_url, {"password": "not my password at all"})
    assert response.status_code == 200
    assert response.get("Content-Type", "").startswith("text/html")


def test_export_gate_anonymous_and_without_mfa(client, user):
    response = client.get(reverse("account_export"))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("account_login")
    client.force_login(user)
    response = client.post(reverse("account_export"))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("mfa_activate_totp")
