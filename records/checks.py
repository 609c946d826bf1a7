"""Start-up checks for settings the record's features depend on."""

from typing import Any

from django.conf import settings
from django.core.checks import Error
from django.urls import reverse

# The SMART Health Links specification: the manifest `url` in a link's payload SHALL NOT exceed 128
# characters. Homeport's manifest ids are 43 characters (32 random bytes, base64url).
SHL_URL_LIMIT = 128
MANIFEST_ID_LENGTH = 43


def share_manifest_url_fits(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A PORTAL_BASE_URL so long that share links would break the specification stops start-up."""
    length = len(settings.PORTAL_BASE_URL) + len(reverse("share:manifest", args=["x" * MANIFEST_ID_LENGTH]))
    if length <= SHL_URL_LIMIT:
        return []
    return [
        Error(
            f"PORTAL_BASE_URL makes share manifest URLs {length} characters long; SMART Health Links allow "
            f"at most {SHL_URL_LIMIT}.",
            hint="Use a shorter PORTAL_BASE_URL (scheme, host and an optional short path).",
            id="records.E001",
        )
    ]
