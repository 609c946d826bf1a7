"""The health-data gate: no health data for a session that has not passed a fresh second factor."""

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy

from accounts.http import AuthedRequest
from accounts.selectors import health_session_state
from accounts.services import access_log_record

EXPIRED_MESSAGE = gettext_lazy("For your security, sessions end after 12 hours. Please sign in again.")

_MESSAGES = {
    "no-factor": gettext_lazy("Before you can see health information, protect your account with a second factor."),
    "mfa-needed": gettext_lazy("Confirm it's you with your second factor to continue."),
    "idle": gettext_lazy("You were inactive for a while, so we need you to confirm it's you again."),
    "expired": EXPIRED_MESSAGE,
}


# The gate records activity at most this often: a session saved on every page costs three queries,
# and the idle limit then starts at most this much early (never late).
ACTIVITY_WRITE_EVERY_SECONDS = 60


def _activity_touch(request: HttpRequest) -> None:
    """Note the person's activity for the idle limit, writing the session only when the note is stale."""
    now = time.time()
    last = request.session.get("health_last_activity")
    if not isinstance(last, int | float) or now - last >= ACTIVITY_WRITE_EVERY_SECONDS:
        request.session["health_last_activity"] = now


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}"


AccessTarget = Callable[[AuthedRequest, dict[str, Any]], str]
"""Builds an access-log target from the request and the view's URL kwargs (may raise Http404)."""

LOGGED_METHODS = ("GET", "HEAD")


def health_data_required(
    view: Callable[..., HttpResponse] | None = None,
    *,
    touch: bool = True,
    logs: str = "",
    target: AccessTarget | str = "",
) -> Any:
    """Wrap every view that shows or changes health data.

    Anonymous → login. No second factor → MFA set-up. A session that has not used its second factor
    (or was idle for HEALTH_SESSION_IDLE_SECONDS) → MFA reauthentication. Older than
    HEALTH_SESSION_MAX_AGE_SECONDS → signed out, sign in again (NIST SP 800-63B AAL2).
    `touch=False` for endpoints polled by scripts, which must not count as the person's activity.

    `logs` declares the access-log action of a view that shows health data (it may name the view's
    URL kwargs, as in "records:{category}"), and `target` what was read: a string, or a function of
    the request and the kwargs. The gate writes the entry when the view answered a read (GET/HEAD)
    without raising, so a record view cannot forget its log line.
    """

    def decorator(view_func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view_func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            signed_in = cast(AuthedRequest, request)  # the check above makes `user` a User
            state = health_session_state(request=signed_in)
            if state == "ok":
                if touch:
                    _activity_touch(request)
                response = view_func(request, *args, **kwargs)
                if logs and request.method in LOGGED_METHODS:
                    access_log_record(
                        request=signed_in,
                        subject=signed_in.user,
                        action=logs.format(**kwargs),
                        target=target(signed_in, kwargs) if callable(target) else target,
                    )
                response.headers.setdefault("Cache-Control", "no-store, private")
                return response
            next_url = request.get_full_path()
            if state == "expired":
                logout(request)
                messages.info(request, _MESSAGES[state])
                return redirect_to_login(next_url)
            messages.info(request, _MESSAGES[state])
            if state == "no-factor":
                return redirect(_with_next(reverse("mfa_activate_totp"), next_url))
            return redirect(_with_next(reverse("mfa_reauthenticate"), next_url))

        # A marker the URL walk in tests/security reads; setattr because mypy types the wrapper
        # from `wraps` and knows no such attribute.
        setattr(wrapper, "health_data_required", True)  # noqa: B010
        setattr(wrapper, "access_logged", logs)  # noqa: B010
        return wrapper

    if view is not None:
        return decorator(view)
    return decorator
