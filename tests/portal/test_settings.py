"""Settings are driven by the environment: safe defaults in development, no insecure fallbacks in production."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x7#kq2!vLp9@Zr4$Tn8^Wb3&Hm6*Yc1(Fd5)Gs0_Jh7+Ke2=Qa9-Ux4~Mi8",
    "FIELD_ENCRYPTION_KEY": "q1Nn2A5RZ8xjQ0hQ3xvUq4YkV6cW7bTg8jHs9pLe0dM=",
    "METRIPORT_API_KEY": "prod-api-key",
    "METRIPORT_WEBHOOK_KEY": "prod-webhook-key",
    "ALLOWED_HOSTS": "homeport.example",
    "DATABASE_URL": "sqlite:////tmp/homeport-settings-test.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "METRIPORT_", "FIELD_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stderr
    assert "no issues" in result.stdout


def test_missing_secrets_stop_startup_with_a_clear_message():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in {"DJANGO_SECRET_KEY", "METRIPORT_WEBHOOK_KEY"}}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "METRIPORT_WEBHOOK_KEY" in result.stderr
    assert "must be set" in result.stderr


def test_production_turns_the_sandbox_off_and_cookies_secure():
    code = (
        "from django.conf import settings as s;"
        "print(s.SANDBOX_ENABLED, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.EMAIL_BACKEND.rsplit('.', 2)[-2])"
    )
    result = run_manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "31536000", "smtp"]


def test_development_defaults_need_no_environment():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.SANDBOX_ENABLED, s.CELERY_BROKER_URL)",
        env={"DATABASE_URL": "sqlite:////tmp/homeport-settings-dev.sqlite3", "CELERY_BROKER_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "filesystem://"]


def test_sqlite_keeps_its_connections_for_db_conn_max_age():
    """Opening a SQLite connection cost every request and every task 0.7 ms: the embedded default keeps
    them as PostgreSQL does, for DB_CONN_MAX_AGE (60 s unless set; 0 opens one for each)."""
    code = "from django.conf import settings as s; d = s.DATABASES['default']; print(d['ENGINE'], d['CONN_MAX_AGE'])"
    sqlite = {"DATABASE_URL": "sqlite:////tmp/homeport-settings-dev.sqlite3", "CELERY_BROKER_URL": ""}
    answers = []
    for age in ("", "0", "300"):
        result = run_manage("shell", "--no-imports", "-c", code, env={**sqlite, "DB_CONN_MAX_AGE": age})
        assert result.returncode == 0, result.stderr
        answers.append(result.stdout.split())
    engine = "django.db.backends.sqlite3"
    assert answers == [[engine, "60"], [engine, "0"], [engine, "300"]]


def test_a_malformed_boolean_is_refused():
    result = run_manage("check", env={**PRODUCTION_ENV, "DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be true or false" in result.stderr


def test_env_example_documents_every_variable_the_settings_read():
    import re

    settings_text = (ROOT / "portal" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z_]+)"', settings_text))
    read |= set(re.findall(r'secret\("([A-Z_]+)"', settings_text))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read - documented == set()
