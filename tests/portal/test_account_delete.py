"""Deletion: after a fresh sign-in and a typed confirmation, everything about the person goes;
the network is asked to delete the patient until it confirms; an email confirms; an audit row stays."""

import json
from urllib.parse import urlsplit

import httpx
import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core import mail
from django.urls import reverse

from accounts.crypto import encrypt_text
from accounts.models import AccessLogEntry, Consent, User
from accounts.services import consent_record
from portal.models import AccountDeletion
from portal.services import email_hash
from tests.security.bundles import ingest_for, person_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


@pytest.fixture
def network():
    """The network faked at the HTTP boundary; `answers` is a queue of status codes for DELETE."""
    from ias import metriport

    class Network:
        answers: list[int] = []
        deletes: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            Network.deletes.append(request.url.path)
            status = Network.answers.pop(0) if Network.answers else 200
            return httpx.Response(status, json={} if status < 400 else {"detail": "busy"})
        return httpx.Response(404, json={"detail": "not faked"})

    Network.answers, Network.deletes = [], []
    metriport.use_transport(httpx.MockTransport(handler))
    yield Network
    metriport.use_transport(None)


def _give_the_person_everything(user, tmp_path):
    """Records, a network link with demographics, identity, AAL2, a query, a webhook body, consent, log."""
    from ias.models import Aal2Challenge, IdentityVerification, NetworkPatient, NetworkQuery, WebhookEvent

    snapshot = ingest_for(user_id=user.pk, bundle=person_bundle(label="Delete-Me"), tmp_path=tmp_path)
    NetworkPatient.objects.create(
        user=user,
        patient_id="np-delete-me",
        facility_id="fac_1",
        demographics_encrypted=encrypt_text(json.dumps({"firstName": "Mia"})),
    )
    IdentityVerification.objects.create(user=user, session_id="idv-1", status="verified", proofed_identity_id="pid-1")
    Aal2Challenge.objects.create(user=user, challenge_id="aal-1", proofed_identity_id="pid-1")
    NetworkQuery.objects.create(user=user, request_id="req-delete-me")
    WebhookEvent.objects.create(
        message_id="m-1",
        event_type="network-query.hie",
        request_id="req-delete-me",
        network_patient_id="np-delete-me",
        body_encrypted=b"x",
    )
    consent_record(user=user, notice_version=settings.PRIVACY_NOTICE_VERSION, ip="203.0.113.1")
    AccessLogEntry.objects.create(subject=user, actor=user, action="view", target="records:summary")
    return snapshot


def _ias_rows(user_id: int) -> int:
    from ias.models import Aal2Challenge, IdentityVerification, NetworkPatient, NetworkQuery

    return sum(
        model.objects.filter(user_id=user_id).count()
        for model in (NetworkPatient, IdentityVerification, Aal2Challenge, NetworkQuery)
    )


def test_delete_page_needs_gate(client, user):
    response = client.get(reverse("account_delete"))
    assert urlsplit(response["Location"]).path == reverse("account_login")
    client.force_login(user)
    response = client.post(reverse("account_delete"), {"confirmation": "DELETE"})
    assert urlsplit(response["Location"]).path == reverse("mfa_activate_totp")
    assert User.objects.filter(pk=user.pk).exists()


def test_delete_needs_recent_reauthentication(client_mfa_earlier, mfa_user):
    assert client_mfa_earlier.get(reverse("account_delete")).status_code == 200
    response = client_mfa_earlier.post(reverse("account_delete"), {"confirmation": "DELETE"})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("mfa_reauthenticate")
    assert User.objects.filter(pk=mfa_user.pk).exists()


@pytest.mark.parametrize("typed", ["", "delete", "DELETE ME", "someone.else@example.com", "yes"])
def test_wrong_confirmation_deletes_nothing(client_mfa, mfa_user, reauth, typed):
    reauth(client_mfa)
    response = client_mfa.post(reverse("account_delete"), {"confirmation": typed})
    assert response.status_code == 200
    assert b"field__error" in response.content
    assert User.objects.filter(pk=mfa_user.pk).exists()
    assert not AccountDeletion.objects.exists()


@pytest.mark.parametrize("typed", ["DELETE", "MIA.MFA@example.com"])
def test_delete_removes_everything_and_keeps_an_audit_row(
    client_mfa,
    mfa_user,
    other_user,
    reauth,
    tmp_path,
    network,
    django_capture_on_commit_callbacks,
    typed,
    eager_celery,
):
    from accounts.storage import private_storage
    from ias.models import PatientDeletion, WebhookEvent
    from records.models import Resource, Snapshot

    snapshot = _give_the_person_everything(mfa_user, tmp_path)
    theirs = ingest_for(user_id=other_user.pk, bundle=person_bundle(label="Keep-Me"), tmp_path=tmp_path, name="o.json")
    assert snapshot.bundle_file and private_storage().exists(snapshot.bundle_file)
    user_id, address = mfa_user.pk, mfa_user.email
    reauth(client_mfa)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_mfa.post(reverse("account_delete"), {"confirmation": typed})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_deleted")

    # The person and every artefact are gone.
    assert not User.objects.filter(pk=user_id).exists()
    assert not Resource.objects.filter(user_id=user_id).exists()
    assert not Snapshot.objects.filter(user_id=user_id).exists()
    assert not private_storage().exists(snapshot.bundle_file)
    assert _ias_rows(user_id) == 0
    assert not WebhookEvent.objects.filter(network_patient_id="np-delete-me").exists()
    assert not Consent.objects.filter(user_id=user_id).exists()
    assert not AccessLogEntry.objects.filter(subject_id=user_id).exists()
    assert not Authenticator.objects.filter(user_id=user_id).exists()
    assert not EmailAddress.objects.filter(email__iexact=address).exists()

    # Someone else's record is untouched.
    assert Resource.objects.filter(user=other_user).count() > 0
    assert private_storage().exists(theirs.bundle_file)

    # The network was asked to delete the patient.
    deletion_at_network = PatientDeletion.objects.get(network_patient_id="np-delete-me")
    assert len(network.deletes) == 1
    assert network.deletes[0].endswith("/medical/v1/patient/np-delete-me")
    assert deletion_at_network.status == PatientDeletion.Status.DONE

    # The audit row: no health data, no readable address once the email has gone.
    audit = AccountDeletion.objects.get()
    assert audit.email_hash == email_hash(address)
    assert audit.user_id_was == user_id
    assert audit.counts["records.resources"] > 0
    assert audit.counts["consents"] == 1
    assert audit.network_deletion_scheduled is True
    assert audit.completed_at is not None
    assert audit.notify_email_encrypted == ""
    assert audit.notified_at is not None
    row = json.dumps(list(AccountDeletion.objects.values()), default=str)
    assert address not in row and "Delete-Me" not in row and "Mia" not in row

    # The confirmation email went out after commit, to the person.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [address]
    assert "deleted" in mail.outbox[0].subject
    assert "Delete-Me" not in mail.outbox[0].body

    # The session is over.
    assert client_mfa.get(reverse("account")).status_code == 302
    assert client_mfa.get(reverse("account_deleted")).status_code == 200


def test_failed_network_delete_is_retried_never_forgotten(
    client_mfa, mfa_user, reauth, tmp_path, network, django_capture_on_commit_callbacks, monkeypatch
):
    """The network fails twice (503, then 500); the pending row survives, the sweeper re-sends, it ends done."""
    from ias import patients, sweeper, tasks
    from ias.models import PatientDeletion
    from ias.network import NetworkTransientError

    _give_the_person_everything(mfa_user, tmp_path)
    network.answers = [503, 500]
    reauth(client_mfa)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client_mfa.post(reverse("account_delete"), {"confirmation": "DELETE"})
    assert callbacks, "the network delete and the email must be scheduled after commit"
    deletion = PatientDeletion.objects.get(network_patient_id="np-delete-me")
    assert deletion.status == PatientDeletion.Status.PENDING

    for _ in range(2):
        with pytest.raises(NetworkTransientError):
            patients.patient_delete_at_network(deletion_id=deletion.pk)
    deletion.refresh_from_db()
    assert deletion.status == PatientDeletion.Status.PENDING
    assert deletion.attempts == 2
    assert deletion.last_error

    sent = []
    monkeypatch.setattr(
        tasks.patient_delete_at_network, "apply_async", lambda kwargs=None, **options: sent.append(kwargs)
    )
    assert sweeper.sweep_run()["deletions"] == 1
    assert sent == [{"deletion_id": deletion.pk}]

    patients.patient_delete_at_network(deletion_id=deletion.pk)
    deletion.refresh_from_db()
    assert deletion.status == PatientDeletion.Status.DONE
    assert len(network.deletes) == 3


def test_email_failure_keeps_the_promise_until_sent(mfa_user, monkeypatch, django_capture_on_commit_callbacks):
    """SMTP down: the task fails, the encrypted address stays for the retry and the sweeper; then sent, erased."""
    from portal import services, tasks

    with django_capture_on_commit_callbacks(execute=False):
        audit = services.account_delete(user_id=mfa_user.pk)

    def broken(*args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    with pytest.raises(OSError):
        services.account_deletion_notify_send(deletion_id=audit.pk)
    audit.refresh_from_db()
    assert audit.notification_pending and audit.notify_attempts == 1

    queued = []
    monkeypatch.setattr(
        tasks.account_deletion_notify, "apply_async", lambda kwargs=None, **options: queued.append(kwargs)
    )
    AccountDeletion.objects.filter(pk=audit.pk).update(requested_at=audit.requested_at.replace(year=2000))
    assert tasks.account_deletion_notify_sweep() == 1
    assert queued == [{"deletion_id": audit.pk}]

    monkeypatch.undo()
    assert services.account_deletion_notify_send(deletion_id=audit.pk) is True
    assert services.account_deletion_notify_send(deletion_id=audit.pk) is False
    assert len(mail.outbox) == 1
    audit.refresh_from_db()
    assert not audit.notification_pending


def test_deletion_is_all_or_nothing(mfa_user, monkeypatch, tmp_path):
    """If forgetting at the network side fails, nothing is deleted and no email is promised."""
    from portal import services
    from records.models import Resource

    ingest_for(user_id=mfa_user.pk, bundle=person_bundle(), tmp_path=tmp_path)

    def boom(*, user_id):
        raise RuntimeError("database trouble")

    monkeypatch.setattr(services, "_network_forget", boom)
    with pytest.raises(RuntimeError):
        services.account_delete(user_id=mfa_user.pk)
    assert User.objects.filter(pk=mfa_user.pk).exists()
    assert Resource.objects.filter(user=mfa_user).exists()
    assert not AccountDeletion.objects.exists()


def test_the_deleted_page_says_whether_the_network_was_asked(client):
    page = client.get("/account/deleted/")
    assert b"asked the health network" not in page.content
    session = client.session
    session["deletion_reached_network"] = True
    session.save()
    page = client.get("/account/deleted/")
    assert b"asked the health network to delete your details" in page.content
    assert b"asked the health network" not in client.get("/account/deleted/").content
