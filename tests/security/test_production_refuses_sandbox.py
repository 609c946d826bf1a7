"""Item 11 of issue 12: production (DEBUG off) must not start with the sandbox mounted."""

from tests.portal.test_settings import PRODUCTION_ENV, run_manage


def test_production_with_sandbox_enabled_refuses_to_start():
    result = run_manage("check", env={**PRODUCTION_ENV, "SANDBOX_ENABLED": "true"})
    assert result.returncode != 0
    assert "SANDBOX_ENABLED" in result.stderr


def test_production_with_sandbox_off_starts():
    result = run_manage("check", env={**PRODUCTION_ENV, "SANDBOX_ENABLED": "false"})
    assert result.returncode == 0, result.stderr
