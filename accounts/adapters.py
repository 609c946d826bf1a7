"""allauth adapters: MFA secrets encrypted at rest, and no second password prompt for a first factor."""

import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.urls import reverse

from accounts.crypto import decrypt_text, encrypt_text
from accounts.selectors import user_has_second_factor


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        return reverse("start")

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """Someone who signed in moments ago and has no second factor yet may enrol their first one
        without typing their password again; every other sensitive change asks as allauth does."""
        request = context.request
        if app == "allauth.mfa" and request is not None and request.user.is_authenticated:
            records = get_authentication_records(request, request.user)
            signed_in_at = max((r.get("at", 0) for r in records), default=0)
            fresh = time.time() - signed_in_at < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
            if fresh and not user_has_second_factor(user=request.user):
                return False
        return super().is_reauthentication_required(app=app, **kwargs)


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored as Fernet tokens keyed by FIELD_ENCRYPTION_KEY."""

    def encrypt(self, text: str) -> str:
        return encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_text(encrypted_text)
