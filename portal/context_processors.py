from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def site(request):
    """What every page's shell needs: the sandbox banner and the operator's contact."""
    return {
        "SANDBOX_ENABLED": settings.SANDBOX_ENABLED,
        "OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL,
    }


def journey(request: HttpRequest) -> dict[str, Any]:
    """The person's searches for the shell: last search date, a running import, "Get new records".

    Lazy, so pages that do not show it run no query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from ias.selectors import journey_status

    return {"journey": SimpleLazyObject(lambda: journey_status(user=user))}
