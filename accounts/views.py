"""Thin wrappers around allauth's factor enrolment: enrolling the FIRST factor proves it for this session.

Enrolling another factor does not: the session must have used an existing factor to count as
second-factor authenticated, else a password re-check plus a new passkey would open health data."""

from typing import Any

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.views import activate_totp as allauth_activate_totp
from allauth.mfa.webauthn.views import add_webauthn as allauth_add_webauthn
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.selectors import user_has_second_factor


def _recording_enrolment(allauth_view, authenticator_type: str):
    """After a successful first enrolment the person has just used their only factor: count it as this
    session's second factor, so they are not asked for it again a moment later."""

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        before = set()
        had_factor = False
        if request.user.is_authenticated:
            before = set(Authenticator.objects.filter(user=request.user).values_list("pk", flat=True))
            had_factor = user_has_second_factor(user=request.user)
        response = allauth_view(request, *args, **kwargs)
        first_enrolment = request.user.is_authenticated and not had_factor
        if request.method == "POST" and first_enrolment and response.status_code in (302, 303):
            added = (
                Authenticator.objects.filter(user=request.user, type=authenticator_type).exclude(pk__in=before).first()
            )
            if added is not None:
                record_authentication(request, request.user, "mfa", type=authenticator_type, id=added.pk)
        return response

    return view


totp_activate = _recording_enrolment(allauth_activate_totp, Authenticator.Type.TOTP)
webauthn_add = _recording_enrolment(allauth_add_webauthn, Authenticator.Type.WEBAUTHN)
