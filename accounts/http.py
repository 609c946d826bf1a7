"""Request helpers shared by every app."""

import ipaddress
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

if TYPE_CHECKING:
    from accounts.models import User


class AuthedRequest(HttpRequest):
    """For type checking only: a request that passed the login gate, so its user is a `User`."""

    user: "User"


def _clean_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, as allauth's rate limits see it.

    Behind N trusted proxies (ALLAUTH_TRUSTED_PROXY_COUNT, set by BEHIND_TLS_PROXY) the client is
    the N-th address from the right of X-Forwarded-For: the one our own proxy appended. Anything
    to its left was written by the client and proves nothing.
    """
    trusted = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if trusted > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= trusted:
            return _clean_ip(hops[-trusted])
    remote = request.META.get("REMOTE_ADDR") or ""
    return _clean_ip(remote) if remote else None
