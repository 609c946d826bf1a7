"""The one way Homeport builds an HTTP client for a service outside it.

Every outbound client gets explicit timeouts, no redirects followed, and no proxy or certificate
settings taken from the environment (a stray HTTPS_PROXY must not route health-network traffic);
tests pass a transport instead of the network.
"""

from __future__ import annotations

import httpx


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
        follow_redirects=False,
        trust_env=False,
    )
