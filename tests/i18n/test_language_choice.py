"""The language comes from the browser, can be changed in the header or on the account page, is
stored on the account, and then wins over the browser on every page and in every email."""

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.conftest import _make_user

SPANISH_HOME = "Su próximo paso"
ENGLISH_HOME = "Your next step"


def test_browser_language_is_used_before_any_choice(client_mfa):
    assert SPANISH_HOME in client_mfa.get("/", HTTP_ACCEPT_LANGUAGE="es-US,es;q=0.9").content.decode()
    assert ENGLISH_HOME in client_mfa.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()


def test_header_switch_stores_the_choice_and_the_next_page_is_in_spanish(client_mfa, mfa_user):
    page = client_mfa.get(reverse("account"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="{reverse("set_language")}"' in page and 'name="language" value="es"' in page
    response = client_mfa.post(reverse("set_language"), {"language": "es", "next": reverse("account")})
    assert response.status_code == 302 and response["Location"] == reverse("account")
    mfa_user.refresh_from_db()
    assert mfa_user.language == "es"
    # The browser still asks for English: the account's choice wins.
    after = client_mfa.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="es">' in after and SPANISH_HOME in after
    assert 'name="language" value="en"' in after  # the switch now offers English back


def test_stored_language_applies_on_sign_in_from_another_browser(db):
    user = _make_user("lucia@example.com")
    user.language = "es"
    user.save(update_fields=["language"])
    browser = Client(HTTP_ACCEPT_LANGUAGE="en-US")
    browser.force_login(user)
    response = browser.get(reverse("account"))
    assert '<html lang="es">' in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"


def test_switching_signed_out_sets_only_the_cookie(db):
    from accounts.models import User

    browser = Client()
    response = browser.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert "Sus registros de salud de todo el país" in browser.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert not User.objects.exclude(language="").exists()


def test_an_unknown_language_is_refused_and_not_stored(client_mfa, mfa_user):
    client_mfa.post(reverse("set_language"), {"language": "xx", "next": "/"})
    mfa_user.refresh_from_db()
    assert mfa_user.language == ""


def test_account_page_saves_the_language(client_mfa, mfa_user):
    response = client_mfa.post(
        reverse("account"),
        {"language": "es", "time_zone": "address", "measurement_units": "us"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    mfa_user.refresh_from_db()
    assert mfa_user.language == "es"
    page = client_mfa.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sus preferencias están guardadas." in page


@pytest.mark.parametrize(("language", "word"), [("es", "contraseña"), ("en", "password")])
def test_emails_follow_the_stored_language_not_the_page(db, language, word):
    user = _make_user(f"reset-{language}@example.com")
    user.language = language
    user.save(update_fields=["language"])
    other_language = "en" if language == "es" else "es"
    Client().post(reverse("account_reset_password"), {"email": user.email}, HTTP_ACCEPT_LANGUAGE=other_language)
    assert len(mail.outbox) == 1
    assert word in (str(mail.outbox[0].subject) + str(mail.outbox[0].body)).lower()


def test_sign_in_lock_email_is_in_the_stored_language(db, settings, django_capture_on_commit_callbacks):
    from accounts.services import password_failure_record

    user = _make_user("bloqueo@example.com")
    user.language = "es"
    user.save(update_fields=["language"])
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        locked = [password_failure_record(user_id=user.pk) for _attempt in range(settings.PASSWORD_FAILURE_LIMIT)]
    assert locked[-1] is True
    assert "bloqueado" in mail.outbox[-1].subject.lower()
    assert "restablezca su contraseña" in mail.outbox[-1].body


def test_account_deleted_email_is_in_the_language_the_person_used(mfa_user, django_capture_on_commit_callbacks):
    from portal import services
    from portal.models import AccountDeletion

    mfa_user.language = "es"
    mfa_user.save(update_fields=["language"])
    with translation.override("en"), django_capture_on_commit_callbacks(execute=False):
        audit = services.account_delete(user_id=mfa_user.pk)
    with translation.override("en"):
        assert services.account_deletion_notify_send(deletion_id=audit.pk) is True
    assert "Su cuenta" in mail.outbox[0].subject
    assert "Su cuenta de Homeport fue eliminada" in mail.outbox[0].body
    assert AccountDeletion.objects.get(pk=audit.pk).notify_language == ""  # not kept once sent
