"""Helpers for the SMART Health Links tests: make a share, read its link, call its manifest, decrypt."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import urlsplit

from jwcrypto import jwe as jw_jwe
from jwcrypto import jwk as jw_jwk


def make_share(user, *, passcode: str = "", lifetime: timedelta = timedelta(days=7), **kwargs):
    from records.sharing import share_create

    kwargs.setdefault("label", "For Dr. Rivera")
    kwargs.setdefault("scope", "summary")
    kwargs.setdefault("categories", [])
    return share_create(user=user, passcode=passcode, lifetime=lifetime, **kwargs)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_shlink(shlink: str) -> dict:
    assert shlink.startswith("shlink:/")
    return json.loads(b64url_decode(shlink[len("shlink:/") :]))


def manifest_post(client, payload: dict, **body):
    """POST the manifest request as a receiving application does (JSON, no session, no CSRF token)."""
    return client.post(urlsplit(payload["url"]).path, data=json.dumps(body), content_type="application/json")


def decrypt(jwe_text: str, key_b64url: str) -> tuple[dict, bytes]:
    """Decrypt with jwcrypto, a JOSE library independent of the one Homeport uses (joserfc)."""
    key = jw_jwk.JWK(kty="oct", k=key_b64url)
    token = jw_jwe.JWE()
    token.deserialize(jwe_text, key=key)
    return token.jose_header, token.payload
