"""Fixtures for the attack suite: private storage in a temporary folder, and the generated routes."""

import pytest

import tests.security.factories  # noqa: F401  (fills the IDOR registry)


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hundreds of people are created here; the production hasher's cost proves nothing in this suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
