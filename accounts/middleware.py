"""The Django admin sits behind the same login, for staff who passed a fresh second factor."""

from urllib.parse import urlencode

from django.http import HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import reverse

from accounts.decorators import health_data_required


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
