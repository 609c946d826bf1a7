"""Session rules for every request: the 12-hour limit on any signed-in page, and the Django admin
behind the same login, for staff who passed a fresh second factor."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import reverse

from accounts.decorators import EXPIRED_MESSAGE, health_data_required
from accounts.selectors import session_past_max_age


def session_max_age(get_response):
    """NIST SP 800-63B AAL2: a session older than HEALTH_SESSION_MAX_AGE_SECONDS ends on whatever
    page it asks for (account, email, factors, journey), not only on health pages."""

    def middleware(request):
        if request.user.is_authenticated and session_past_max_age(request=request):
            next_url = request.get_full_path()
            logout(request)
            messages.info(request, EXPIRED_MESSAGE)
            return redirect_to_login(next_url)
        return get_response(request)

    return middleware


def admin_requires_mfa(get_response):
    gated = health_data_required(get_response)

    def middleware(request):
        if not request.path.startswith(reverse("admin:index")):
            return get_response(request)
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.get_full_path()})}")
        if not request.user.is_staff:
            return HttpResponseForbidden("The staff admin is for Homeport staff only.")
        return gated(request)

    return middleware
