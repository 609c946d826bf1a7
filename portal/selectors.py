"""Reads for the person's rights pages: the versioned privacy notice, the account overview, the export."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from accounts.models import Consent, User
from accounts.selectors import access_log_for, consent_current, consent_history
from accounts.timezones import zone_for_state, zone_or_none
from ias.selectors import address_state_for


@dataclass(frozen=True)
class PrivacyNotice:
    """One published version of the Privacy & Security Notice; the text lives in `template`."""

    version: str
    effective: date
    template: str
    changes: str | Promise  # translated when shown


# Every version ever published stays here, so a consent can always be shown next to the text agreed to.
PRIVACY_NOTICES: dict[str, PrivacyNotice] = {
    "2026-11-01": PrivacyNotice(
        version="2026-11-01",
        effective=date(2026, 11, 1),
        template="portal/notices/2026-11-01.html",
        changes=gettext_lazy("First published version."),
    ),
}


def privacy_notice_get(*, version: str | None = None) -> PrivacyNotice | None:
    """The notice of `version` (the current one when omitted), or None when no such text exists."""
    return PRIVACY_NOTICES.get(version or settings.PRIVACY_NOTICE_VERSION)


def privacy_notice_versions() -> list[PrivacyNotice]:
    return sorted(PRIVACY_NOTICES.values(), key=lambda notice: notice.effective, reverse=True)


@dataclass(frozen=True)
class ConsentState:
    """What the account page says about consent for one purpose."""

    purpose: str
    purpose_label: str | Promise  # translated when shown
    current: Consent | None
    outdated: Consent | None


def consent_states(*, user: User) -> list[ConsentState]:
    """Per purpose: the active consent under today's notice, or one still active under an older notice."""
    states = []
    for purpose, label in Consent.PURPOSE_CHOICES:
        current = consent_current(user=user, purpose=purpose)
        outdated = None
        if current is None:
            outdated = (
                Consent.objects.filter(user=user, purpose=purpose, revoked_at__isnull=True)
                .order_by("-given_at")
                .first()
            )
        states.append(ConsentState(purpose=purpose, purpose_label=label, current=current, outdated=outdated))
    return states


def consent_any_active(*, user: User) -> bool:
    return Consent.objects.filter(user=user, revoked_at__isnull=True).exists()


# --- export -----------------------------------------------------------------------------------------

EXPORT_README = """\
Your Homeport data
==================

This archive holds everything Homeport keeps about you, as of {generated}.
It was made at your request under the Homeport Privacy & Security Notice (version {notice}).

Files
-----
record/bundle.json         Your health record as one FHIR R4 Bundle (JSON), exactly as we store it.
record/resources.ndjson    The same resources, one per line (FHIR NDJSON), for tools that read bulk data.
network.json               What we sent to the health network about you (the demographics you gave us)
                           and the history of every request for your records, source by source.
consents.json              Every consent you gave or revoked: purpose, notice version, when, from which
                           IP address.
access-log.ndjson          Every time your record was opened or downloaded: who, what, when, from where.
account.json               Your account: email addresses, when it was created, last sign-in, and which
                           kinds of second factor protect it (never the secrets themselves).

Formats
-------
JSON files are UTF-8. NDJSON files have one JSON object per line. Times are ISO-8601 in UTC.
FHIR is the standard format for health records (https://hl7.org/fhir/R4/); any FHIR tool can
read record/bundle.json.

Corrections
-----------
Homeport shows what your providers reported; it cannot change it. To correct something in your
record, contact the organization named as its source, and then ask Homeport for your records again.

Questions: {contact}
"""


def _dt(value) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)


def _record_bundle(*, user_id: int) -> dict:
    from records.selectors import record_export_bundle

    return record_export_bundle(user_id=user_id)


def _network_export(*, user_id: int) -> dict:
    from ias.selectors import ias_export_for

    return ias_export_for(user_id=user_id)


def _account_facts(*, user: User) -> dict:
    return {
        "email": user.email,
        "full_name": user.full_name,
        "date_joined": _dt(user.date_joined),
        "last_login": _dt(user.last_login),
        "email_addresses": [
            {"email": address.email, "verified": address.verified, "primary": address.primary}
            for address in EmailAddress.objects.filter(user=user).order_by("email")
        ],
        "second_factors": [
            {
                "type": authenticator.type,
                "created_at": _dt(authenticator.created_at),
                "last_used_at": _dt(authenticator.last_used_at),
            }
            for authenticator in Authenticator.objects.filter(user=user).order_by("created_at")
        ],
    }


def _consents(*, user: User) -> list[dict]:
    return [
        {
            "purpose": consent.purpose,
            "notice_version": consent.notice_version,
            "given_at": _dt(consent.given_at),
            "given_ip": consent.given_ip,
            "revoked_at": _dt(consent.revoked_at),
            "revoked_ip": consent.revoked_ip,
        }
        for consent in consent_history(user=user)
    ]


def _actor_words(actor_id: int | None, user_id: int) -> str:
    if actor_id == user_id:
        return "you"
    return "Homeport staff" if actor_id else "unknown"


def _access_log_lines(*, user: User):
    for entry in access_log_for(subject=user).iterator(chunk_size=1000):
        yield (
            orjson.dumps(
                {
                    "at": _dt(entry.at),
                    "by": _actor_words(entry.actor_id, user.pk),
                    "action": entry.action,
                    "target": entry.target,
                    "ip": entry.ip,
                    "user_agent": entry.user_agent,
                }
            )
            + b"\n"
        )


def account_export_zip(*, user: User) -> bytes:
    """Everything Homeport holds about the person, as one zip archive (JSON, FHIR NDJSON, README)."""
    generated = timezone.now()
    bundle = _record_bundle(user_id=user.pk)
    network = _network_export(user_id=user.pk)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            EXPORT_README.format(
                generated=_dt(generated),
                notice=settings.PRIVACY_NOTICE_VERSION,
                contact=settings.OPERATOR_CONTACT_EMAIL,
            ),
        )
        archive.writestr("record/bundle.json", _json(bundle))
        with archive.open("record/resources.ndjson", "w") as ndjson:
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict):
                    ndjson.write(orjson.dumps(resource) + b"\n")
        archive.writestr("network.json", _json(network))
        archive.writestr("consents.json", _json(_consents(user=user)))
        with archive.open("access-log.ndjson", "w") as log:
            for line in _access_log_lines(user=user):
                log.write(line)
        archive.writestr("account.json", _json(_account_facts(user=user)))
    return buffer.getvalue()


def address_time_zone_for(*, user: User) -> str:
    """The zone of the state in the address the person gave, or ""."""
    return zone_for_state(address_state_for(user=user))


def time_zone_for(*, user: User) -> ZoneInfo:
    """The zone to show this person's times in: their choice; else their address's state; else the
    site default. The journey's address stays in ias; records only ever sees the activated zone."""
    chosen = zone_or_none(user.time_zone)
    if chosen is not None:
        return chosen
    derived = zone_or_none(address_time_zone_for(user=user))
    return derived or ZoneInfo(settings.TIME_ZONE)
