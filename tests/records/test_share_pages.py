"""The person's side of sharing: make a share (fresh second factor), see it, its openings, stop it."""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccessLogEntry
from records.models import Share, ShareFile
from tests.records.conftest import ingest_bundle
from tests.records.sharing_helpers import decode_shlink, decrypt, make_share, manifest_post
from tests.security.bundles import person_bundle

pytestmark = pytest.mark.django_db

FORM = {"label": "For Dr. Rivera", "scope": "summary", "lifetime": "7d", "passcode": "tulip-42"}


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, person_bundle(label="Peanut"))
    return mfa_user


def test_the_record_menu_links_to_sharing(client_mfa, owner):
    page = client_mfa.get(reverse("records:summary")).content.decode()
    assert f'href="{reverse("share:list")}"' in page and "Share my record" in page


def test_making_a_share_shows_the_qr_and_links_once(client_mfa, owner):
    response = client_mfa.post(reverse("share:new"), FORM)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    shlink = response.context["shlink"]
    viewer_url = response.context["viewer_url"]
    assert shlink in page and viewer_url in page
    assert viewer_url.endswith("/share/view#" + shlink)
    assert 'src="data:image/svg+xml' in page
    assert "Print the handout" in page and 'class="share-handout"' in page
    share = Share.objects.get(user=owner)
    assert share.label == "For Dr. Rivera" and share.has_passcode and share.flag == "LP"
    payload = decode_shlink(shlink)
    share_file = ShareFile.objects.filter(share=share).first()
    assert share_file is not None
    _header, plaintext = decrypt(share_file.jwe, payload["key"])
    assert b"Peanut" in plaintext
    assert AccessLogEntry.objects.filter(subject=owner, action="records:share-created").exists()


def test_making_a_share_needs_a_fresh_second_factor(make_mfa_client, owner):
    client = make_mfa_client(owner, mfa_at=time.time() - 20 * 60)
    response = client.get(reverse("share:new"))
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == reverse("mfa_reauthenticate")
    assert parse_qs(target.query)["next"] == [reverse("share:new")]
    assert client.post(reverse("share:new"), FORM).status_code == 302
    assert not Share.objects.exists()


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"label": ""}, "This field is required"),
        ({"lifetime": "365d"}, "Select a valid choice"),
        ({"passcode": "abc"}, "at least 4 characters"),
        ({"scope": "categories"}, "Choose at least one part of your record"),
    ],
)
def test_a_wrong_form_says_what_to_fix(client_mfa, owner, changes, words):
    response = client_mfa.post(reverse("share:new"), {**FORM, **changes})
    assert response.status_code == 200
    assert words in response.content.decode()
    assert not Share.objects.exists()


def test_chosen_parts_are_kept(client_mfa, owner):
    response = client_mfa.post(
        reverse("share:new"), {**FORM, "scope": "categories", "categories": ["allergies", "vitals"]}
    )
    assert response.status_code == 200
    assert Share.objects.get(user=owner).categories == ["allergies", "vitals"]
    assert "Allergies and intolerances, Vital signs" in response.content.decode()


def test_the_list_shows_openings_and_revoking_stops_the_link(client_mfa, owner):
    created = make_share(owner, label="For <b>Dr.</b> Rivera")
    payload = decode_shlink(created.shlink)
    assert manifest_post(Client(), payload, recipient="Dr. <i>Rivera</i>").status_code == 200
    page = client_mfa.get(reverse("share:list")).content.decode()
    assert "For &lt;b&gt;Dr.&lt;/b&gt; Rivera" in page
    assert "Dr. &lt;i&gt;Rivera&lt;/i&gt;" in page and "<i>Rivera" not in page
    assert "Once" in page and "Working" in page and "Stop this share" in page

    response = client_mfa.post(reverse("share:revoke", args=[created.share.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("share:list")
    share = Share.objects.get(pk=created.share.pk)
    assert share.revoked_at is not None and share.files_deleted_at is not None
    assert not ShareFile.objects.filter(share=share).exists()
    assert manifest_post(Client(), payload, recipient="Dr. R").status_code == 404
    page = client_mfa.get(reverse("share:list")).content.decode()
    assert "Stopped" in page and "Stop this share" not in page


def test_revoke_needs_post(client_mfa, owner):
    created = make_share(owner)
    assert client_mfa.get(reverse("share:revoke", args=[created.share.pk])).status_code == 405
    assert Share.objects.get(pk=created.share.pk).revoked_at is None


def test_access_history_names_the_recipient_and_the_share_escaped(client_mfa, owner):
    created = make_share(owner, label="<script>alert(1)</script>Clinic")
    manifest_post(Client(), decode_shlink(created.shlink), recipient='Dr. "Rivera" <img src=x onerror=alert(2)>')
    page = client_mfa.get(reverse("records:access_history")).content.decode()
    assert "Opened by Dr. &quot;Rivera&quot; &lt;img src=x onerror=alert(2)&gt; through the share" in page
    assert "&#x27;&lt;script&gt;alert(1)&lt;/script&gt;Clinic&#x27;" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page


def test_account_deletion_revokes_every_share(owner):
    from portal.models import AccountDeletion
    from portal.services import account_delete

    first, second = make_share(owner), make_share(owner, passcode="tulip-42")
    account_delete(user_id=owner.pk)
    for created in (first, second):
        assert (
            manifest_post(Client(), decode_shlink(created.shlink), recipient="X", passcode="tulip-42").status_code
            == 404
        )
    assert not ShareFile.objects.exists()
    assert AccountDeletion.objects.get().counts["records.shares_revoked"] == 2


def test_share_revoke_all_stops_only_that_persons_shares(owner, other_user):
    from records.sharing import share_revoke_all

    mine, theirs = make_share(owner), make_share(other_user)
    assert share_revoke_all(user_id=owner.pk) == 1
    assert manifest_post(Client(), decode_shlink(mine.shlink), recipient="X").status_code == 404
    assert manifest_post(Client(), decode_shlink(theirs.shlink), recipient="X").status_code == 200


def test_the_periodic_task_deletes_files_of_expired_shares(owner):
    from records.tasks import shares_purge_expired

    expired, working = make_share(owner, lifetime=timedelta(hours=1)), make_share(owner)
    Share.objects.filter(pk=expired.share.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert shares_purge_expired() == 1
    assert not ShareFile.objects.filter(share_id=expired.share.pk).exists()
    assert ShareFile.objects.filter(share_id=working.share.pk).count() == 2
    assert shares_purge_expired() == 0
    assert manifest_post(Client(), decode_shlink(working.shlink), recipient="X").status_code == 200


def test_the_viewer_is_public_and_carries_no_data(client):
    response = client.get(reverse("share:viewer"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "js/shl-viewer.js" in page and "<script>" not in page
    assert "no-store" in response["Cache-Control"]
