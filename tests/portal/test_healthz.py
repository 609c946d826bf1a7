import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] is True
    assert body["broker"] is True
    assert body["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_says_when_the_broker_is_unreachable(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_BROKER_TRANSPORT_OPTIONS={}):
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["broker"] is False
    assert body["database"] is True
    assert body["status"] == "degraded"


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_staff_see_account_deletions_read_only(staff_client_mfa):
    from portal.models import AccountDeletion

    row = AccountDeletion.objects.create(email_hash="ab" * 32, user_id_was=41, counts={"resources": 3})
    listing = staff_client_mfa.get("/admin/portal/accountdeletion/")
    assert listing.status_code == 200
    assert b"41" in listing.content
    detail = staff_client_mfa.get(f"/admin/portal/accountdeletion/{row.pk}/change/")
    assert detail.status_code == 200
    assert b"notify_email_encrypted" not in detail.content
    assert staff_client_mfa.post(f"/admin/portal/accountdeletion/{row.pk}/delete/", {"post": "yes"}).status_code == 403
