"""Writes for the person's rights: revoking consent and deleting the account with everything in it.

Imports go one way: services import `portal.tasks` to enqueue; tasks import services inside their bodies.
"""

from __future__ import annotations

import logging

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac

from accounts.crypto import encrypt_text
from accounts.models import AccessLogEntry, Consent, User
from accounts.services import consent_revoke, sessions_end_for
from ias.queueing import enqueue_after_commit
from portal import tasks
from portal.models import AccountDeletion

log = logging.getLogger(__name__)


def email_hash(email: str) -> str:
    """A keyed hash, so the audit row can be matched to an address we are given, never read back."""
    return salted_hmac("homeport.account-deletion", email.strip().lower(), algorithm="sha256").hexdigest()


def account_language_save(*, user: User, language: str) -> None:
    """Remember the language the person chose, so every page and email speaks it."""
    user.language = language
    user.save(update_fields=["language"])


def account_preferences_save(*, user: User, time_zone: str, measurement_units: str, email_notifications: bool) -> None:
    """Store how the person wants their record shown and whether to get notice emails."""
    user.time_zone = time_zone
    user.measurement_units = measurement_units
    user.email_notifications = email_notifications
    user.save(update_fields=["time_zone", "measurement_units", "email_notifications"])


def account_consent_revoke(*, user: User, ip: str | None) -> int:
    """Revoke every active consent of the person, for every purpose; returns how many were revoked."""
    revoked = 0
    with transaction.atomic():
        for purpose, _label in Consent.PURPOSE_CHOICES:
            revoked += consent_revoke(user=user, purpose=purpose, ip=ip)
    log.info("consent revoked (user=%s, consents=%s)", user.pk, revoked)
    return revoked


def _records_delete(*, user_id: int) -> dict[str, int]:
    from records.services import record_delete_all

    return record_delete_all(user_id=user_id)


def _shares_revoke(*, user_id: int) -> int:
    from records.sharing import share_revoke_all

    return share_revoke_all(user_id=user_id)


def _network_forget(*, user_id: int) -> None:
    from ias.patients import network_patient_forget

    network_patient_forget(user_id=user_id)


def _network_deletion_pending(*, user_id: int) -> bool:
    from ias.models import NetworkPatient

    return (
        NetworkPatient.objects.filter(user_id=user_id).exclude(patient_id__isnull=True).exclude(patient_id="").exists()
    )


def account_delete(*, user_id: int) -> AccountDeletion:
    """Remove the person's health data, identity artefacts and account; keep an audit row without them.

    One transaction: either everything goes or nothing does. The network's DELETE is made durable by
    ias (a pending row, retried until the network confirms); the confirmation email leaves after commit.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        network_linked = _network_deletion_pending(user_id=user_id)
        shares_revoked = _shares_revoke(user_id=user_id)
        removed = _records_delete(user_id=user_id)
        counts: dict[str, int] = {f"records.{key}": value for key, value in removed.items()}
        counts["records.shares_revoked"] = shares_revoked
        _network_forget(user_id=user_id)
        counts["consents"] = Consent.objects.filter(user=user).count()
        counts["access_log_entries"] = AccessLogEntry.objects.filter(subject=user).count()
        counts["second_factors"] = Authenticator.objects.filter(user=user).count()
        counts["email_addresses"] = EmailAddress.objects.filter(user=user).count()
        deletion = AccountDeletion.objects.create(
            email_hash=email_hash(user.email),
            user_id_was=user.pk,
            counts=counts,
            network_deletion_scheduled=network_linked,
            notify_email_encrypted=encrypt_text(user.email),
            notify_language=user.language or translation.get_language() or "",
        )
        counts["sessions_ended"] = sessions_end_for(user_id=user_id)
        user.delete()
        AccountDeletion.objects.filter(pk=deletion.pk).update(completed_at=timezone.now())
        deletion_id = deletion.pk
        # A broker outage must not turn a finished deletion into an error: publishing never raises, and
        # the sweeper sends it later.
        enqueue_after_commit(tasks.account_deletion_notify, deletion_id=deletion_id)
    log.info("account deleted (deletion=%s)", deletion.pk)
    deletion.refresh_from_db()
    return deletion


def account_deletion_notify_send(*, deletion_id: int) -> bool:
    """Send the confirmation email once; the address is erased from the row as soon as it has gone."""
    from django.conf import settings
    from django.utils.translation import gettext

    from accounts.crypto import decrypt_text
    from accounts.mail import branded_email_send

    with transaction.atomic():
        deletion = AccountDeletion.objects.select_for_update().filter(pk=deletion_id).first()
        if deletion is None or not deletion.notify_email_encrypted:
            return False
        AccountDeletion.objects.filter(pk=deletion_id).update(notify_attempts=deletion.notify_attempts + 1)
    address = decrypt_text(deletion.notify_email_encrypted)
    context = {"deletion": deletion, "contact": settings.OPERATOR_CONTACT_EMAIL}
    with translation.override(deletion.notify_language or settings.LANGUAGE_CODE):
        branded_email_send(
            to=address,
            subject=gettext("Your account has been deleted"),
            template="portal/email/account_deleted",
            context=context,
        )
    AccountDeletion.objects.filter(pk=deletion_id).update(
        notify_email_encrypted="", notify_language="", notified_at=timezone.now()
    )
    return True
