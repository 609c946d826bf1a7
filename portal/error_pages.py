"""The plain error pages a person sees instead of a traceback, shared by the middleware and by
DEBUG's exception reporter. Imports no models: the reporter is loaded while logging is configured,
before the apps are ready."""

from django.conf import settings
from django.db import DatabaseError, OperationalError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.views.debug import ExceptionReporter

RETRY_AFTER_SECONDS = 5


def is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated and user.is_staff)
    except DatabaseError:
        return False


class PatientSafeExceptionReporter(ExceptionReporter):
    """DEBUG's error page for errors outside a view (a session saved on a locked database, say):
    staff still get Django's debug page; everyone else the same plain page as in production."""

    def get_traceback_html(self) -> SafeString:
        if self.request is not None and is_staff(self.request):
            return super().get_traceback_html()
        if isinstance(self.exc_value, OperationalError):
            return render_to_string("busy.html", {"retry_after": RETRY_AFTER_SECONDS})
        return render_to_string("500.html", {"OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL})
