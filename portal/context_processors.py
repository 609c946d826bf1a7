from django.conf import settings


def site(request):
    """What every page's shell needs: the sandbox banner and the operator's contact."""
    return {
        "SANDBOX_ENABLED": settings.SANDBOX_ENABLED,
        "OPERATOR_CONTACT_EMAIL": settings.OPERATOR_CONTACT_EMAIL,
    }
