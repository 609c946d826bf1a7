"""The manifest endpoint speaks the SMART Health Links protocol: recipient, passcode, lockout, expiry, revocation."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AccessLogEntry
from records.models import Share, ShareFile, ShareOpening
from records.sharing import MAX_PASSCODE_FAILURES, share_revoke
from tests.records.conftest import ingest_bundle
from tests.records.sharing_helpers import decode_shlink, decrypt, make_share, manifest_post
from tests.security.bundles import person_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, person_bundle(label="Peanut"))
    return mfa_user


def test_manifest_answers_the_files_and_records_the_opening(owner):
    created = make_share(owner)
    payload = decode_shlink(created.shlink)
    response = manifest_post(Client(), payload, recipient="Dr. Rivera, Cardiology")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    files = response.json()["files"]
    assert [f["contentType"] for f in files] == ["application/fhir+json", "application/fhir+json"]
    assert all(f["embedded"].count(".") == 4 for f in files)
    _header, plaintext = decrypt(files[0]["embedded"], payload["key"])
    assert b'"Bundle"' in plaintext
    opening = ShareOpening.objects.get(share=created.share)
    assert opening.recipient == "Dr. Rivera, Cardiology"
    assert Share.objects.get(pk=created.share.pk).open_count == 1
    entry = AccessLogEntry.objects.get(subject=owner, actor_kind=AccessLogEntry.ACTOR_SHARE)
    assert entry.reason == "Opened by Dr. Rivera, Cardiology through the share 'For Dr. Rivera'"
    assert entry.actor is None


@pytest.mark.parametrize("body", [{}, {"recipient": ""}, {"recipient": "   "}, {"recipient": 42}])
def test_recipient_is_required(owner, body):
    created = make_share(owner)
    response = manifest_post(Client(), decode_shlink(created.shlink), **body)
    assert response.status_code == 400
    assert "recipient" in response.json()["error"]
    assert not ShareOpening.objects.exists()


def test_body_must_be_json(owner):
    created = make_share(owner)
    path = urlsplit(decode_shlink(created.shlink)["url"]).path
    response = Client().post(path, data="recipient=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


def test_passcode_right_opens(owner):
    created = make_share(owner, passcode="tulip-42")
    payload = decode_shlink(created.shlink)
    assert payload["flag"] == "LP"
    assert manifest_post(Client(), payload, recipient="Dr. R", passcode="tulip-42").status_code == 200


def test_passcode_stored_only_as_a_hash(owner):
    created = make_share(owner, passcode="tulip-42")
    share = Share.objects.get(pk=created.share.pk)
    assert share.passcode_hash and "tulip-42" not in share.passcode_hash
    assert share.passcode_hash.startswith("pbkdf2_sha256$")


@pytest.mark.parametrize("extra", [{}, {"passcode": "wrong"}, {"passcode": ""}, {"passcode": 1234}])
def test_wrong_or_missing_passcode_is_401_with_remaining_attempts(owner, fast_hasher, extra):
    created = make_share(owner, passcode="tulip-42")
    response = manifest_post(Client(), decode_shlink(created.shlink), recipient="Dr. R", **extra)
    assert response.status_code == 401
    assert response.json() == {"remainingAttempts": MAX_PASSCODE_FAILURES - 1}
    assert not ShareOpening.objects.exists()


def test_lockout_after_the_lifetime_limit_of_wrong_passcodes(owner, fast_hasher):
    created = make_share(owner, passcode="tulip-42")
    payload = decode_shlink(created.shlink)
    remaining = [
        manifest_post(Client(), payload, recipient="X", passcode=f"guess{i}").json()["remainingAttempts"]
        for i in range(MAX_PASSCODE_FAILURES)
    ]
    assert remaining == list(range(MAX_PASSCODE_FAILURES - 1, -1, -1))
    # Locked: even the right passcode now gets a 404, and the files are gone.
    assert manifest_post(Client(), payload, recipient="X", passcode="tulip-42").status_code == 404
    share = Share.objects.get(pk=created.share.pk)
    assert share.locked_at is not None and share.state == "locked"
    assert not ShareFile.objects.filter(share=share).exists()


def test_a_right_passcode_does_not_reset_the_lifetime_count(owner, fast_hasher):
    created = make_share(owner, passcode="tulip-42")
    payload = decode_shlink(created.shlink)
    manifest_post(Client(), payload, recipient="X", passcode="nope")
    manifest_post(Client(), payload, recipient="X", passcode="tulip-42")
    response = manifest_post(Client(), payload, recipient="X", passcode="nope again")
    assert response.json() == {"remainingAttempts": MAX_PASSCODE_FAILURES - 2}


def test_expired_share_is_404_and_its_files_are_deleted(owner):
    created = make_share(owner, lifetime=timedelta(hours=1))
    Share.objects.filter(pk=created.share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = manifest_post(Client(), decode_shlink(created.shlink), recipient="Dr. R")
    assert response.status_code == 404
    assert not ShareFile.objects.filter(share_id=created.share.pk).exists()
    assert Share.objects.get(pk=created.share.pk).files_deleted_at is not None


def test_revoked_share_is_404(owner):
    created = make_share(owner)
    payload = decode_shlink(created.shlink)
    assert manifest_post(Client(), payload, recipient="Dr. R").status_code == 200
    share_revoke(user=owner, share_id=created.share.pk)
    assert manifest_post(Client(), payload, recipient="Dr. R").status_code == 404
    assert not ShareFile.objects.filter(share_id=created.share.pk).exists()


def test_unknown_manifest_is_404():
    response = Client().post("/share/m/nope-not-a-share", data="{}", content_type="application/json")
    assert response.status_code == 404


def test_manifest_refuses_get(owner):
    created = make_share(owner)
    assert Client().get(urlsplit(decode_shlink(created.shlink)["url"]).path).status_code == 405


def test_preflight_allows_any_origin(owner):
    created = make_share(owner)
    path = urlsplit(decode_shlink(created.shlink)["url"]).path
    response = Client().options(path, HTTP_ORIGIN="https://ehr.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in response["Access-Control-Allow-Headers"]


def test_embedded_length_max_gives_short_lived_locations(owner):
    created = make_share(owner)
    payload = decode_shlink(created.shlink)
    files = manifest_post(Client(), payload, recipient="Dr. R", embeddedLengthMax=10).json()["files"]
    assert all("location" in f and "embedded" not in f for f in files)
    response = Client().get(urlsplit(files[0]["location"]).path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jose"
    _header, plaintext = decrypt(response.content.decode(), payload["key"])
    assert b'"Composition"' in plaintext
    share_revoke(user=owner, share_id=created.share.pk)
    assert Client().get(urlsplit(files[0]["location"]).path).status_code == 404


def test_a_forged_location_is_404():
    assert Client().get("/share/f/eyJzIjoxLCJmIjoxfQ:forged:sig").status_code == 404
