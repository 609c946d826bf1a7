"""Item 8 of issue 12: sign-up must not reveal whether an address has an account. Both paths do
the same work: one password hash and one email (a confirmation, or an "you already have an
account" notice), then the same page. Timing is measured outside the suite (see the report)."""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

HASHED: list[str] = []


class CountingHasher(PBKDF2PasswordHasher):
    """A cheap PBKDF2 that notes each hash it makes."""

    iterations = 1000

    def encode(self, password, salt, iterations=None):
        HASHED.append(password)
        return super().encode(password, salt, iterations)


@pytest.fixture(autouse=True)
def _counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.security.test_signup_same_work.CountingHasher"]
    HASHED.clear()


def _sign_up(client, email: str):
    password = "a long enough passphrase 31"
    return client.post(reverse("account_signup"), {"email": email, "password1": password, "password2": password})


def test_both_paths_hash_the_password_once_and_send_one_email(client, mfa_user):
    HASHED.clear()
    new = _sign_up(client, "brand.new@example.com")
    new_work = (len(HASHED), len(mail.outbox), new.status_code, new["Location"])
    HASHED.clear()
    mail.outbox.clear()
    existing = _sign_up(client, mfa_user.email.upper())
    existing_work = (len(HASHED), len(mail.outbox), existing.status_code, existing["Location"])
    assert new_work == existing_work
    assert new_work[:2] == (1, 1)
