"""Plain words for what the network reports, shown to the person next to each source.

They are stored in English (marked for translation with gettext_noop) and translated when shown.
"""

from django.utils.translation import gettext_noop

from ias.network import NetworkPermanentError

SOURCE_FAILED = gettext_noop("This source reported a problem and sent no records.")
SOURCE_TIMED_OUT = gettext_noop("This source did not answer in time.")
QUERY_TIMED_OUT = gettext_noop("The search took too long and was stopped. You can start a new one.")
QUERY_START_FAILED = gettext_noop("The search could not be started.")
COMPANION_START_FAILED = gettext_noop(
    "This network could not be asked just now. Your other search goes on; you can search again later."
)
RECORDS_LINK_EXPIRED = gettext_noop("The download link expired; a fresh copy of your records has been requested.")


def refused_reason(http_status: int | None) -> str:
    """Why a source could not start, from the HTTP status in the response's `errors` list."""
    if http_status == 429:
        return gettext_noop("This source is busy right now (too many searches). Try again in a few minutes.")
    if http_status in (401, 403):
        return gettext_noop("This source is not available for searches from Homeport.")
    if http_status == 404:
        return gettext_noop("This source could not find anyone matching your details.")
    if http_status is not None and http_status >= 500:
        return gettext_noop("This source had a technical problem and could not be searched.")
    if http_status == 400:
        return gettext_noop("This source did not accept the search request.")
    return gettext_noop("This source could not be searched.")


UNREACHABLE = gettext_noop("The health network could not be reached just now. Please try again in a minute.")


def network_problem(exc: Exception) -> str:
    """Any failed network call on one of the person's steps, as one plain sentence."""
    if isinstance(exc, NetworkPermanentError):
        return network_refusal(exc.detail, exc.status)
    return UNREACHABLE


def network_refusal(detail: str, status: int | None) -> str:
    """A 4xx answer to one of the person's own steps, in words they can act on."""
    if status in (401, 403):
        return gettext_noop(
            "The network did not accept the request. Please try again; if it keeps happening, contact us."
        )
    if status == 404:
        return gettext_noop("The network no longer knows this record. Please check your details and try again.")
    if detail:
        return f"The network did not accept this: {detail}"
    return gettext_noop("The network did not accept this request.")
