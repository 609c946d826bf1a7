"""Security headers Django does not set itself (Content Security Policy, Permissions-Policy), the
networks' webhooks served ahead of the browser's middleware, the signed-in person's time zone and
language for every page, and friendly pages in place of tracebacks."""

import logging
from collections.abc import Callable
from typing import Literal, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import ResolverMatch, URLResolver, include, path
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern
from django.utils import timezone, translation

from ias.urls import webhook_urlpatterns
from portal.error_pages import RETRY_AFTER_SECONDS, is_staff
from portal.selectors import time_zone_for

logger = logging.getLogger(__name__)


def _content_security_policy() -> str:
    form_action = " ".join(["'self'", *settings.CSP_FORM_ACTION_EXTRA])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(get_response):
    policy = _content_security_policy()

    def middleware(request):
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response

    return middleware


WEBHOOK_PREFIX = "/webhooks/"


def webhooks_first(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Serve the networks' webhooks here, after the security headers and before everything a
    browser needs (sessions, language, CSRF, sign-in, messages, second factor, time zone): a
    webhook uses none of it, and its acknowledgement is bound by CPU. Only CSRF-exempt views, which
    authenticate the body themselves, may be served this way; any other path goes down the stack."""
    for pattern in webhook_urlpatterns:
        view = getattr(pattern, "callback", None)
        if not getattr(view, "csrf_exempt", False):
            raise ImproperlyConfigured(f"webhook route {pattern.pattern} must be a csrf_exempt view")
    resolver = URLResolver(RegexPattern(r"^/"), [path("", include((webhook_urlpatterns, "ias")))])
    # A route without arguments resolves to the same match every time: it is resolved once per
    # process and the match shared, as nothing writes to it (the resolver's walk was 55 of the
    # 1,715 Python calls of an acknowledgement through the WSGI application).
    resolved: dict[str, ResolverMatch] = {}

    def middleware(request: HttpRequest) -> HttpResponse:
        path_info = request.path_info
        if not path_info.startswith(WEBHOOK_PREFIX):
            return get_response(request)
        match = resolved.get(path_info)
        if match is None:
            try:
                match = resolver.resolve(path_info)
            except Resolver404:
                return get_response(request)
            if not match.args and not match.kwargs:
                resolved[path_info] = match
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it for every other request
        request.resolver_match = match
        try:
            return match.func(request, *match.args, **match.kwargs)
        except OperationalError as exc:
            logger.warning("database busy on %s: %s", match.view_name, type(exc).__name__)
            response = JsonResponse({"error": "database busy, try again"}, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response

    return middleware


def person_time_zone(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Show times in the person's zone: their choice, else their address's state, else the default."""

    def middleware(request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(time_zone_for(user=user))
        else:
            timezone.deactivate()
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware


def person_language(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Speak the language stored on the signed-in person's account, whatever the browser asks for.

    Runs after LocaleMiddleware (which picked the language from the cookie or Accept-Language) and
    after authentication. The cookie follows the account, so the language stays after signing out.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = user.language if user is not None and user.is_authenticated else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = get_response(request)
        language = user.language if user is not None and user.is_authenticated else ""
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=cast(Literal["Lax", "Strict", "None", False] | None, settings.LANGUAGE_COOKIE_SAMESITE),
            )
        return response

    return middleware


def _view_name(request: HttpRequest) -> str:
    return request.resolver_match.view_name if request.resolver_match else "?"


class FriendlyErrors:
    """A person never sees a traceback. A busy database (SQLite's write lock held past the busy
    timeout) answers 503 with Retry-After and a plain page, in every mode. In DEBUG, any other
    error shows the friendly 500 page to everyone but staff (the traceback still goes to the
    console); without DEBUG, Django's handler500 shows the same 500.html."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError):
            logger.warning("database busy on %s: %s", _view_name(request), type(exception).__name__)
            body = render_to_string("busy.html", {"retry_after": RETRY_AFTER_SECONDS})
            response = HttpResponse(body, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            response["Cache-Control"] = "no-store"
            return response
        if settings.DEBUG and not is_staff(request):
            logger.exception("server error on %s", _view_name(request))
            return HttpResponse(
                render_to_string("500.html", {"OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL}), status=500
            )
        return None
