"""allauth forms with the consecutive-failure lock: wrong codes are counted per account, a locked
account is refused before any code is checked, and a password reset by email unlocks it."""

from typing import TYPE_CHECKING

from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.mfa.base.forms import AuthenticateForm as AllauthAuthenticateForm
from allauth.mfa.base.forms import ReauthenticateForm as AllauthReauthenticateForm
from allauth.mfa.webauthn.forms import AuthenticateWebAuthnForm as AllauthAuthenticateWebAuthnForm
from allauth.mfa.webauthn.forms import ReauthenticateWebAuthnForm as AllauthReauthenticateWebAuthnForm
from django import forms
from django.contrib.auth.hashers import make_password

from accounts.models import User
from accounts.selectors import account_locked
from accounts.services import LOCKED_MESSAGE, account_unlock, mfa_failure_record, mfa_success_record

if TYPE_CHECKING:
    # The mixins below only ever sit in front of these allauth forms; telling the checker so lets it
    # see the `super()` methods they extend.
    from allauth.mfa.base.forms import BaseAuthenticateForm as _CodeFormBase
    from allauth.mfa.webauthn.forms import AuthenticateWebAuthnForm as _WebAuthnFormBase
else:
    _CodeFormBase = object
    _WebAuthnFormBase = object


class _CountingCodeMixin(_CodeFormBase):
    """Counts wrong TOTP and recovery codes; allauth's own rate-limit refusals are not guesses."""

    user: User

    def clean_code(self) -> str:
        if account_locked(user_id=self.user.pk):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        try:
            code = super().clean_code()
        except forms.ValidationError as error:
            guessed = any(getattr(item, "code", "") == "incorrect_code" for item in error.error_list)
            if guessed and mfa_failure_record(user_id=self.user.pk):
                raise forms.ValidationError(LOCKED_MESSAGE, code="locked") from None
            raise
        mfa_success_record(user_id=self.user.pk)
        return code


class AuthenticateForm(_CountingCodeMixin, AllauthAuthenticateForm):
    pass


class ReauthenticateForm(_CountingCodeMixin, AllauthReauthenticateForm):
    pass


class _LockedWebAuthnMixin(_WebAuthnFormBase):
    """A locked account uses no second factor at all, passkeys included, until it is unlocked."""

    user: User | None = None

    def clean(self):
        if self.user is not None and account_locked(user_id=self.user.pk):
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        return super().clean()


class AuthenticateWebAuthnForm(_LockedWebAuthnMixin, AllauthAuthenticateWebAuthnForm):
    pass


class ReauthenticateWebAuthnForm(_LockedWebAuthnMixin, AllauthReauthenticateWebAuthnForm):
    pass


class ResetPasswordKeyForm(AllauthResetPasswordKeyForm):
    """Only the emailed reset link unlocks: a password change by someone signed in does not."""

    def save(self) -> None:
        super().save()
        account_unlock(user_id=self.user.pk)


class SignupForm(AllauthSignupForm):
    """Sign-up costs the same whether or not the address has an account (no enumeration by timing):
    the existing-account path hashes the password too, and throws the hash away. Both paths then
    send one email (a confirmation, or allauth's "you already have an account" notice)."""

    def try_save(self, request):
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1") or "")
        return super().try_save(request)
