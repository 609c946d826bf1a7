"""Shares are the owner's alone: another person can neither list nor stop them, and no form posts without CSRF."""

import pytest
from django.test import Client
from django.urls import reverse

from records.models import Share
from tests.conftest import mfa_session
from tests.records.sharing_helpers import decode_shlink, make_share, manifest_post

pytestmark = pytest.mark.django_db


def test_another_persons_shares_are_not_listed(mfa_user, other_user_client_mfa):
    make_share(mfa_user, label="Owner-only label")
    page = other_user_client_mfa.get(reverse("share:list")).content.decode()
    assert "Owner-only label" not in page
    assert "You have not shared your record yet." in page


def test_another_person_cannot_revoke(mfa_user, other_user_client_mfa):
    created = make_share(mfa_user)
    response = other_user_client_mfa.post(reverse("share:revoke", args=[created.share.pk]))
    assert response.status_code == 404
    assert Share.objects.get(pk=created.share.pk).revoked_at is None
    assert manifest_post(Client(), decode_shlink(created.shlink), recipient="X").status_code == 200


def test_revoke_without_a_csrf_token_is_refused(mfa_user):
    created = make_share(mfa_user)
    client = mfa_session(Client(enforce_csrf_checks=True), mfa_user)
    client.get(reverse("share:list"))
    response = client.post(reverse("share:revoke", args=[created.share.pk]), HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert Share.objects.get(pk=created.share.pk).revoked_at is None


def test_making_a_share_without_a_csrf_token_is_refused(mfa_user):
    client = mfa_session(Client(enforce_csrf_checks=True), mfa_user)
    response = client.post(reverse("share:new"), {"label": "x", "scope": "summary", "lifetime": "1d"})
    assert response.status_code == 403
    assert not Share.objects.exists()


def test_the_manifest_ignores_the_owners_session(mfa_user):
    """The manifest is exempt from CSRF because it never acts on a session: a signed-in owner gets the
    same answer as a stranger, and a passcode is still required."""
    created = make_share(mfa_user, passcode="tulip-42")
    owner = mfa_session(Client(enforce_csrf_checks=True), mfa_user)
    assert manifest_post(owner, decode_shlink(created.shlink), recipient="X").status_code == 401
