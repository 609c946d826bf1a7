"""allauth adapters: MFA secrets encrypted at rest, and no second password prompt for a first factor."""

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailConfirmation
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from django import forms
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from accounts.crypto import decrypt_text, encrypt_text
from accounts.mail import email_html_from_text, email_send_record, email_site_context, portal_url
from accounts.models import User
from accounts.selectors import account_locked, session_last_mfa_at, user_has_second_factor
from accounts.services import LOCKED_MESSAGE, password_failure_record, password_success_record


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """A person without a second factor enrols one first: nothing else is open to them. Staff
        then land in the admin."""
        if not user_has_second_factor(user=request.user):
            return reverse("mfa_activate_totp")
        if request.user.is_staff:
            return reverse("admin:index")
        return reverse("start")

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """allauth's plain text, with the site's simple HTML version beside it."""
        message = super().render_mail(template_prefix, email, context, headers=headers)
        self.rendered_subject = str(message.subject)
        if isinstance(message, EmailMultiAlternatives) and not message.alternatives:
            message.attach_alternative(
                email_html_from_text(subject=str(message.subject), text=str(message.body)), "text/html"
            )
        return message

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every email allauth sends is branded, links only to PORTAL_BASE_URL (never the request's
        Host header), and is noted for staff (which message, to whom, when; never its links).

        It is written in the person's stored language when they have one, else the page's language.
        """
        site = email_site_context()
        branded = {
            **site,
            "current_site": SimpleNamespace(name=site["site_name"], domain=site["site_domain"]),
        }
        branded.update({key: _rebase(value) if isinstance(value, str) else value for key, value in context.items()})
        user = context.get("user")
        language = user.language if isinstance(user, User) and user.language else translation.get_language()
        with translation.override(language):
            super().send_mail(template_prefix, email, branded)
        email_send_record(
            to_email=email,
            template_prefix=template_prefix,
            subject=getattr(self, "rendered_subject", ""),
            user=user if isinstance(user, User) else None,
            context=context,
        )

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """No second password prompt for someone who just proved themselves: a first factor may be
        enrolled right after sign-in, and a second factor used moments ago counts as reauthentication.
        Every other sensitive change asks, as allauth does."""
        request = context.request
        if request is not None and request.user.is_authenticated:
            window = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
            now = time.time()
            last_mfa = session_last_mfa_at(request=request)
            if last_mfa is not None and now - last_mfa < window:
                return False
            last_login = request.user.last_login
            just_signed_in = last_login is not None and now - last_login.timestamp() < window
            if app == "allauth.mfa" and just_signed_in and not user_has_second_factor(user=request.user):
                return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def _credential_user_id(self, credentials: dict) -> int | None:
        email = credentials.get("email") or credentials.get("username") or ""
        if not email:
            return None
        return User.objects.filter(email__iexact=str(email)).values_list("pk", flat=True).first()

    def authenticate(self, request, **credentials):
        """Consecutive wrong passwords are counted per account (PASSWORD_FAILURE_LIMIT); a locked
        account is refused even with the right password until it is unlocked."""
        user_id = self._credential_user_id(credentials)
        if user_id is not None and account_locked(user_id=user_id):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        user = super().authenticate(request, **credentials)
        if user is not None:
            password_success_record(user_id=user.pk)
        elif user_id is not None and password_failure_record(user_id=user_id):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        return user

    def get_reauthentication_methods(self, user) -> list[dict]:
        """A person with a second factor re-checks with that factor only: a password (or an emailed
        code) must never stand in for it, on the idle gate or on the factor and recovery-code pages."""
        methods = super().get_reauthentication_methods(user)
        if user.is_authenticated and user_has_second_factor(user=user):
            return [method for method in methods if method["id"].startswith("mfa_reauthenticate")]
        return methods

    # --- email: branded, and every link from PORTAL_BASE_URL, never the request's Host header ---

    def get_reset_password_from_key_url(self, key: str) -> str:
        absolute = super().get_reset_password_from_key_url(key)
        return _rebase(absolute)

    def get_email_confirmation_url(self, request: HttpRequest | None, emailconfirmation: EmailConfirmation) -> str:
        return portal_url(reverse("account_confirm_email", args=[emailconfirmation.key]))


def _rebase(url: str) -> str:
    """An absolute URL the request built, moved onto PORTAL_BASE_URL (path and query kept)."""
    parts = urlsplit(url)
    if not (parts.scheme in ("http", "https") and parts.netloc):
        return url
    request = context.request
    if request is not None:
        try:
            own = request.get_host()
        except DisallowedHost:
            own = parts.netloc
        if parts.netloc != own:
            return url
    rest = parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return portal_url(rest)


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored as Fernet tokens keyed by FIELD_ENCRYPTION_KEY."""

    def encrypt(self, text: str) -> str:
        return encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_text(encrypted_text)
