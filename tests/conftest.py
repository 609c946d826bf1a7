"""Fixtures shared by every test package: people in each MFA state, and a real browser."""

import os
import time
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.test import Client

# Playwright's sync API runs an event loop in the test thread; Django's ORM guard would otherwise
# refuse the (synchronous, single-threaded) database calls the tests make alongside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOT_DIR = Path(settings.DATA_DIR) / "test-screenshots" / time.strftime("%Y%m%d-%H%M%S")
PASSWORD = "correct horse battery staple 42"


def _make_user(email: str, *, staff: bool = False):
    from accounts.models import User

    user = User.objects.create_user(email=email, password=PASSWORD, is_staff=staff, is_superuser=staff)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _add_totp(user):
    secret = generate_totp_secret()
    authenticator = TOTP.activate(user, secret).instance
    user.totp_secret = secret
    user.totp_authenticator = authenticator
    return user


def mfa_session(client: Client, user, *, mfa_at: float | None = None, login_at: float | None = None) -> Client:
    """Log `client` in as `user` and record, as allauth does, that a second factor was used."""
    client.force_login(user)
    session = client.session
    login_at = time.time() if login_at is None else login_at
    records = [{"method": "password", "at": login_at, "email": user.email}]
    if mfa_at is not False:
        authenticator = getattr(user, "totp_authenticator", None)
        records.append(
            {
                "method": "mfa",
                "at": time.time() if mfa_at is None else mfa_at,
                "type": "totp",
                "id": authenticator.pk if authenticator else None,
            }
        )
    session["account_authentication_methods"] = records
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth keeps rate-limit counters in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _sandbox_files_root(settings, tmp_path):
    """The sandbox's stored bundles go to a folder of this test's own."""
    settings.SANDBOX_FILES_ROOT = tmp_path / "sandbox-files"


@pytest.fixture
def private_storage_dir(settings, tmp_path):
    """Encrypted private files (bundles, bodies) go to a folder of this test's own."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def user(db):
    return _make_user("pat.person@example.com")


@pytest.fixture
def mfa_user(db):
    return _add_totp(_make_user("mia.mfa@example.com"))


@pytest.fixture
def make_mfa_client(db):
    def make(user=None, **kwargs) -> Client:
        if user is None:
            user = _add_totp(_make_user(f"person{time.monotonic_ns()}@example.com"))
        elif not hasattr(user, "totp_secret"):
            _add_totp(user)
        return mfa_session(Client(), user, **kwargs)

    return make


@pytest.fixture
def client_mfa(mfa_user, make_mfa_client):
    return make_mfa_client(mfa_user)


@pytest.fixture
def other_user(db):
    return _add_totp(_make_user("olive.other@example.com"))


@pytest.fixture
def other_user_client_mfa(other_user, make_mfa_client):
    return make_mfa_client(other_user)


@pytest.fixture
def staff_user(db):
    return _add_totp(_make_user("sam.staff@example.com", staff=True))


@pytest.fixture
def staff_client_mfa(staff_user, make_mfa_client):
    return make_mfa_client(staff_user)


@pytest.fixture(scope="session")
def screenshot_dir():
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.fixture(scope="session")
def _playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser_instance(_playwright):
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    browser = _playwright.chromium.launch(
        executable_path=executable,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def browser(browser_instance):
    """A fresh browser context (own cookies) on the system Chromium; yields a page."""
    context = browser_instance.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOT_DIR.exists() and any(SCREENSHOT_DIR.iterdir()):
        terminalreporter.write_line(f"Browser screenshots saved in: {SCREENSHOT_DIR}")
