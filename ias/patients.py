"""The person's patient at the network: created and updated from their details, deleted when they
ask to be forgotten, and the door to their documents there.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from accounts.crypto import encrypt_text
from accounts.selectors import consent_current
from accounts.services import person_name_index
from ias.errors import (
    JourneyError,
    NetworkRefused,
    NetworkUnavailable,
    network_errors_as_journey,
)
from ias.models import (
    Aal2Challenge,
    IdentityVerification,
    NetworkPatient,
    NetworkQuery,
    PatientDeletion,
    WebhookEvent,
)
from ias.network import (
    IDENTITY_NETWORK,
    NetworkPermanentError,
    NetworkTransientError,
    PatientDetails,
    PatientRef,
    network_for,
)
from ias.queueing import enqueue_after_commit
from ias.selectors import networks_registering

log = logging.getLogger(__name__)


def details_stored(details: PatientDetails) -> dict[str, Any]:
    """The details as kept (encrypted) on the link: the field names rows have always held, which the
    form, the staff page, the name index and the account export read back."""
    address: dict[str, str] = {
        "addressLine1": details.address.line1,
        "city": details.address.city,
        "state": details.address.state,
        "zip": details.address.zip,
        "country": details.address.country,
    }
    if details.address.line2:
        address["addressLine2"] = details.address.line2
    stored: dict[str, Any] = {
        "firstName": details.first_name,
        "lastName": details.last_name,
        "dob": details.dob,
        "genderAtBirth": details.gender_at_birth,
        "address": [address],
    }
    contact = {k: v for k, v in (("phone", details.phone), ("email", details.email)) if v}
    if contact:
        stored["contact"] = [contact]
    return stored


@network_errors_as_journey
def network_patient_save(*, user, details: PatientDetails) -> NetworkPatient:
    """Create the person's patient at every network it searches the first time; update it afterwards.
    The identity network goes first and its refusals are the form's; another network's refusal is
    said with that network's name, and saving again registers the person there."""
    if consent_current(user=user) is None:
        raise JourneyError(gettext_noop("Please give your consent first."), step="consent")
    first = network_link_save(user=user, network=IDENTITY_NETWORK, details=details)
    for key in networks_registering()[1:]:
        label = network_for(key).label
        try:
            network_link_save(user=user, network=key, details=details)
        except NetworkPermanentError as exc:
            # Said now, in the person's language: the network's own words (exc.detail) are kept as given.
            words = exc.detail or gettext("please check your details and save them again")
            raise NetworkRefused(
                gettext("%(network)s did not accept your details: %(reason)s") % {"network": label, "reason": words}
            ) from None
        except NetworkTransientError:
            raise NetworkUnavailable(
                gettext(
                    "%(network)s could not be reached just now. Your details are saved; please save them again in a "
                    "minute."
                )
                % {"network": label}
            ) from None
    return first


def network_link_save(*, user, network: str, details: PatientDetails) -> NetworkPatient:
    """Register or update the person at one network, and keep their details on its link."""
    facility_id = settings.METRIPORT_FACILITY_ID if network == IDENTITY_NETWORK else ""
    link, _ = NetworkPatient.objects.get_or_create(user=user, network=network, defaults={"facility_id": facility_id})
    external_id = f"homeport-{user.pk}"
    created_id = ""
    seam = network_for(link.network)
    if link.patient_id:
        patient = PatientRef(patient_id=link.patient_id, facility_id=link.facility_id)
        seam.patient_update(patient=patient, details=details, external_id=external_id)
    else:
        created = seam.patient_register(facility_id=link.facility_id, details=details, external_id=external_id)
        created_id = created.patient_id
    demographics = details_stored(details)
    with transaction.atomic():
        link = NetworkPatient.objects.select_for_update().get(pk=link.pk)
        if created_id:
            if link.patient_id and link.patient_id != created_id:
                # A second submission won the race: the extra patient at the network must go.
                deletion_schedule(network_patient_id=created_id, facility_id=link.facility_id, network=link.network)
            else:
                link.patient_id = created_id
        link.demographics_encrypted = encrypt_text(json.dumps(demographics))
        link.save()
        person_name_index(user=user, names=[str(demographics.get(key) or "") for key in ("firstName", "lastName")])
    return link


def deletion_schedule(*, network_patient_id: str, facility_id: str, network: str = "metriport") -> PatientDeletion:
    from ias.tasks import patient_delete_at_network

    deletion, _ = PatientDeletion.objects.get_or_create(
        network=network, network_patient_id=network_patient_id, defaults={"facility_id": facility_id}
    )
    enqueue_after_commit(patient_delete_at_network, deletion_id=deletion.pk)
    return deletion


def network_patient_forget(*, user_id: int) -> None:
    """Forget everything ias holds about this person, and durably ask every network they were
    registered with to delete the patient."""
    with transaction.atomic():
        links = list(NetworkPatient.objects.select_for_update().filter(user_id=user_id))
        request_ids = [
            rid for rid in NetworkQuery.objects.filter(user_id=user_id).values_list("request_id", flat=True) if rid
        ]
        if request_ids:
            WebhookEvent.objects.filter(request_id__in=request_ids).delete()
        for link in links:
            if link.patient_id:
                WebhookEvent.objects.filter(network=link.network, network_patient_id=link.patient_id).delete()
                deletion_schedule(
                    network_patient_id=link.patient_id, facility_id=link.facility_id, network=link.network
                )
        NetworkQuery.objects.filter(user_id=user_id).delete()
        Aal2Challenge.objects.filter(user_id=user_id).delete()
        IdentityVerification.objects.filter(user_id=user_id).delete()
        NetworkPatient.objects.filter(pk__in=[link.pk for link in links]).delete()


def patient_delete_at_network(*, deletion_id: int) -> PatientDeletion:
    """Delete the patient at the network; a 404 means it is already gone."""
    deletion = PatientDeletion.objects.get(pk=deletion_id)
    if deletion.status == PatientDeletion.Status.DONE:
        return deletion
    PatientDeletion.objects.filter(pk=deletion_id).update(attempts=deletion.attempts + 1)
    try:
        network_for(deletion.network).patient_delete(
            patient=PatientRef(patient_id=deletion.network_patient_id, facility_id=deletion.facility_id)
        )
    except NetworkPermanentError as exc:
        if not exc.is_not_found:
            PatientDeletion.objects.filter(pk=deletion_id).update(last_error=str(exc)[:500])
            raise
    except NetworkTransientError as exc:
        PatientDeletion.objects.filter(pk=deletion_id).update(last_error=str(exc)[:500])
        raise
    PatientDeletion.objects.filter(pk=deletion_id).update(
        status=PatientDeletion.Status.DONE, done_at=timezone.now(), last_error=""
    )
    deletion.refresh_from_db()
    return deletion


def document_link_for(*, user_id: int, attachment_url: str, content_type: str = "") -> str:
    """A short-lived link to one of the person's documents, asked of the network on demand.

    The records pages call this through `RECORDS_DOCUMENT_URL_PROVIDER` (records sits below ias and
    cannot import it). The file name is the attachment URL's `fileName` parameter, else its path;
    the attachment comes from the person's own stored record, and the person must have a network link.
    """
    link = NetworkPatient.objects.filter(user_id=user_id, network=IDENTITY_NETWORK, patient_id__isnull=False).first()
    if link is None:
        raise JourneyError("This person has no patient record at the network yet.")
    parts = urlsplit(attachment_url)
    file_name = (parse_qs(parts.query).get("fileName") or [""])[0] or unquote(parts.path).lstrip("/")
    if not file_name:
        raise JourneyError("The document has no file name the network would know.")
    return network_for(link.network).document_link(file_name=file_name, content_type=content_type)
