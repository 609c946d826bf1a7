"""Item 3 of issue 12: behind the TLS proxy, the client address is the right-most one the proxy
appended to X-Forwarded-For, for our audit log and for allauth's rate limits alike."""

import pytest
from allauth.account.adapter import get_adapter
from django.test import RequestFactory, override_settings

from accounts.http import client_ip


def _request(forwarded: str, remote: str = "10.0.0.2"):
    return RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_a_client_written_forwarded_for_entry_is_not_taken():
    # The client wrote "6.6.6.6"; the one proxy appended the real peer, 203.0.113.7.
    assert client_ip(_request("6.6.6.6, 203.0.113.7")) == "203.0.113.7"


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), ALLAUTH_TRUSTED_PROXY_COUNT=2)
def test_two_trusted_proxies_skip_the_last_hop():
    assert client_ip(_request("6.6.6.6, 198.51.100.4, 10.1.1.1")) == "198.51.100.4"


@override_settings(SECURE_PROXY_SSL_HEADER=None, ALLAUTH_TRUSTED_PROXY_COUNT=0)
def test_without_a_proxy_the_header_is_ignored():
    assert client_ip(_request("6.6.6.6", remote="192.0.2.9")) == "192.0.2.9"


def test_behind_tls_proxy_tells_allauth_how_many_proxies_to_trust():
    from tests.portal.test_settings import PRODUCTION_ENV, run_manage

    code = "from django.conf import settings as s; print(s.ALLAUTH_TRUSTED_PROXY_COUNT)"
    behind = run_manage("shell", "--no-imports", "-c", code, env={**PRODUCTION_ENV, "BEHIND_TLS_PROXY": "true"})
    assert behind.returncode == 0, behind.stderr
    assert behind.stdout.split() == ["1"]
    direct = run_manage("shell", "--no-imports", "-c", code, env={**PRODUCTION_ENV, "BEHIND_TLS_PROXY": "false"})
    assert direct.stdout.split() == ["0"]


@pytest.mark.parametrize("forwarded", ["6.6.6.6, 203.0.113.7", "203.0.113.7"])
def test_allauth_rate_limits_key_on_the_same_address(settings, forwarded):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    request = _request(forwarded)
    assert get_adapter().get_client_ip(request) == client_ip(request) == "203.0.113.7"
