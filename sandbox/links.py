"""Signed, expiring links to files the sandbox serves itself, like presigned S3 URLs.

The token carries ids and filters only (never health data) and an explicit expiry, so that the
"expired link" fault can issue a link that is already stale.
"""

import time

from django.core import signing
from django.urls import reverse

SALT = "sandbox.files"


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def link_make(*, origin: str, payload: dict, ttl_seconds: float) -> str:
    token = signing.dumps({**payload, "exp": int(time.time() + ttl_seconds)}, salt=SALT, compress=True)
    return f"{origin}{reverse('sandbox:file', args=[token])}"


def link_read(token: str) -> dict:
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
        raise LinkExpired
    return payload


def link_peek(token: str) -> dict:
    """The payload of a genuine link whether or not it has expired (faults are checked first)."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkInvalid from None
    if not isinstance(payload, dict):
        raise LinkInvalid
    return payload
