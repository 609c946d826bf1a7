"""Thin wrappers around allauth's factor enrolment: enrolling proves the factor for this session."""

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.views import activate_totp as allauth_activate_totp
from allauth.mfa.webauthn.views import add_webauthn as allauth_add_webauthn


def _recording_enrolment(allauth_view, authenticator_type: str):
    """After a successful enrolment the person has just used the new factor: count it as this
    session's second factor, so they are not asked for it again a moment later."""

    def view(request, *args, **kwargs):
        before = set()
        if request.user.is_authenticated:
            before = set(Authenticator.objects.filter(user=request.user).values_list("pk", flat=True))
        response = allauth_view(request, *args, **kwargs)
        if request.method == "POST" and request.user.is_authenticated and response.status_code in (302, 303):
            added = (
                Authenticator.objects.filter(user=request.user, type=authenticator_type).exclude(pk__in=before).first()
            )
            if added is not None:
                record_authentication(request, request.user, "mfa", type=authenticator_type, id=added.pk)
        return response

    return view


totp_activate = _recording_enrolment(allauth_activate_totp, Authenticator.Type.TOTP)
webauthn_add = _recording_enrolment(allauth_add_webauthn, Authenticator.Type.WEBAUTHN)
