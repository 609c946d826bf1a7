"""Staff see a person's shares in the admin without their labels, open one only after giving a
reason (logged in the person's history), and can stop a share the person asks them to stop."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from accounts.models import AccessLogEntry
from records.models import Share, ShareFile
from tests.portal.staff_story import give_reason
from tests.records.conftest import ingest_bundle
from tests.records.sharing_helpers import make_share

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:records_share_changelist")


@pytest.fixture
def shared(mfa_user, private_storage_dir):
    from sandbox.generator import generate_bundle

    ingest_bundle(mfa_user, generate_bundle(seed="share-admin", size=60))
    return Share.objects.get(pk=make_share(mfa_user, label="For my kidney doctor").share.pk)


def test_the_list_names_whose_share_and_its_state_but_not_its_label(staff_client_mfa, shared, mfa_user):
    page = staff_client_mfa.get(CHANGELIST).content.decode()
    assert mfa_user.email in page and "active" in page
    assert "kidney" not in page


def test_opening_a_share_asks_why_and_is_logged(staff_client_mfa, shared, mfa_user):
    url = reverse("admin:records_share_change", args=[shared.pk])
    first = staff_client_mfa.get(url)
    assert first.status_code == 302 and "/reason/" in first["Location"]
    give_reason(staff_client_mfa, mfa_user)
    page = staff_client_mfa.get(url).content.decode()
    assert "For my kidney doctor" in page
    assert shared.manifest_id not in page and "passcode_hash" not in page
    assert AccessLogEntry.objects.filter(subject=mfa_user, action="staff:share").count() == 1


def test_staff_stop_a_share_and_its_files_are_deleted(staff_client_mfa, shared):
    assert ShareFile.objects.filter(share=shared).exists()
    response = staff_client_mfa.post(
        CHANGELIST, {"action": "revoke_shares", helpers.ACTION_CHECKBOX_NAME: [shared.pk]}, follow=True
    )
    assert "1 share stopped." in response.content.decode()
    shared.refresh_from_db()
    assert shared.state == "revoked" and shared.files_deleted_at is not None
    assert not ShareFile.objects.filter(share=shared).exists()


def test_a_person_who_is_not_staff_cannot_stop_shares(make_mfa_client, shared):
    response = make_mfa_client().post(
        CHANGELIST, {"action": "revoke_shares", helpers.ACTION_CHECKBOX_NAME: [shared.pk]}
    )
    assert response.status_code in (302, 403)
    shared.refresh_from_db()
    assert shared.state == "active"
