"""RFC 6238 TOTP (SHA-1, 6 digits, 30 s), what authenticator apps speak."""

import base64
import hmac
import secrets
import time
from hashlib import sha1
from urllib.parse import quote

STEP = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def code_at(secret: str, at: float | None = None) -> str:
    counter = int((time.time() if at is None else at) // STEP)
    digest = hmac.new(_key(secret), counter.to_bytes(8, "big"), sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def verify(secret: str, code: str, *, at: float | None = None, window: int = 1) -> bool:
    """True when `code` matches the current step or one step either side (clock drift)."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return False
    now = time.time() if at is None else at
    return any(hmac.compare_digest(code_at(secret, now + d * STEP), code) for d in range(-window, window + 1))


def provisioning_uri(secret: str, *, account: str, issuer: str = "Sandbox identity provider") -> str:
    return f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}"
