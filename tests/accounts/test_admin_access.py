import pytest

pytestmark = pytest.mark.django_db


def test_admin_sends_anonymous_people_to_the_shared_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=%2Fadmin%2F"


def test_admin_login_page_is_not_a_second_door(client):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_admin_refuses_people_who_are_not_staff(client_mfa):
    assert client_mfa.get("/admin/").status_code == 403


def test_admin_asks_staff_for_their_second_factor(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/2fa/reauthenticate/")


def test_staff_without_any_factor_must_enrol_one(client, db):
    from accounts.models import User

    staff = User.objects.create_user(email="new.staff@example.com", password="x" * 12, is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.url.startswith("/accounts/2fa/totp/activate/")


def test_staff_with_a_fresh_second_factor_reach_the_admin(staff_client_mfa):
    response = staff_client_mfa.get("/admin/")
    assert response.status_code == 200
    assert b"Homeport staff" in response.content


def test_access_log_is_read_only_in_the_admin(staff_client_mfa):
    assert staff_client_mfa.get("/admin/accounts/accesslogentry/").status_code == 200
    assert staff_client_mfa.get("/admin/accounts/accesslogentry/add/").status_code == 403
