"""The one way Homeport builds an HTTP client for a service outside it.

Every outbound client gets explicit timeouts, no redirects followed, and no proxy or certificate
settings taken from the environment (a stray HTTPS_PROXY must not route health-network traffic);
tests pass a transport instead of the network.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default verification (certifi's roots, nothing from the environment), built once
    per process: loading the roots costs tens of milliseconds, which every download and every call to
    a network paid again when each client built its own."""
    return httpx.create_ssl_context(trust_env=False)


def hardened_client(
    *,
    timeout: httpx.Timeout | float,
    base_url: str = "",
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with Homeport's outbound policy; close it (use it as a context manager)."""
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        transport=transport,
        verify=tls_context(),
        follow_redirects=False,
        trust_env=False,
    )
