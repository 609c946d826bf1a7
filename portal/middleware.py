"""Security headers Django does not set itself (Content Security Policy, Permissions-Policy), and
friendly pages in place of tracebacks."""

import logging

from django.conf import settings
from django.db import DatabaseError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.debug import ExceptionReporter

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


def _view_name(request: HttpRequest) -> str:
    return request.resolver_match.view_name if request.resolver_match else "?"


class FriendlyErrors:
    """A person never sees a traceback. A busy database (SQLite's write lock held past the busy
    timeout) answers 503 with Retry-After and a plain page, in every mode. In DEBUG, any other
    error shows the friendly 500 page to everyone but staff (the traceback still goes to the
    console); without DEBUG, Django's handler500 shows the same 500.html."""

    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError):
            logger.warning("database busy on %s: %s", _view_name(request), type(exception).__name__)
            body = render_to_string("busy.html", {"retry_after": self.RETRY_AFTER_SECONDS})
            response = HttpResponse(body, status=503)
            response["Retry-After"] = str(self.RETRY_AFTER_SECONDS)
            response["Cache-Control"] = "no-store"
            return response
        if settings.DEBUG and not _is_staff(request):
            logger.exception("server error on %s", _view_name(request))
            return HttpResponse(
                render_to_string("500.html", {"OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL}), status=500
            )
        return None


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated and user.is_staff)
    except DatabaseError:
        return False


class PatientSafeExceptionReporter(ExceptionReporter):
    """DEBUG's error page for errors outside a view (a session saved on a locked database, say):
    staff still get Django's debug page; everyone else the same plain page as in production."""

    def get_traceback_html(self) -> str:
        if self.request is not None and _is_staff(self.request):
            return super().get_traceback_html()
        if isinstance(self.exc_value, OperationalError):
            return render_to_string("busy.html", {"retry_after": FriendlyErrors.RETRY_AFTER_SECONDS})
        return render_to_string("500.html", {"OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL})
