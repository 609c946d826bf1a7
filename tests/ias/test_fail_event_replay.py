"""Replay, end to end over real HTTP: the sandbox's `fail_event` fault makes the portal's processing of
one event fail for good (marked failed, with the reason); once the fault is removed, the staff
member's reprocess from the person page succeeds and the record arrives."""

import pytest
from django.urls import reverse

from ias import webhooks
from ias.models import WebhookEvent
from records.errors import BundleDownloadError
from records.models import Snapshot
from sandbox import links
from sandbox import services as sandbox_services
from sandbox.models import Fault
from tests.ias import conftest as ias_fixtures
from tests.ias.conftest import verified
from tests.ias.fakes import source_event
from tests.ias.helpers import store
from tests.portal.staff_story import give_reason

pytestmark = pytest.mark.django_db(transaction=True)

no_enqueue = ias_fixtures.no_enqueue


def test_a_faulted_event_fails_for_good_then_replays_once_the_fault_is_gone(
    live_server, settings, private_storage_dir, staff_client_mfa, mfa_user, no_enqueue
):
    settings.IAS_EVENT_MAX_ATTEMPTS = 2
    settings.SANDBOX_RECORD_SIZE = 60
    patient = sandbox_services.patient_create(
        facility_id="fac_test", data={"firstName": "Pat", "lastName": "Replay", "dob": "1970-01-02"}
    )
    verified(mfa_user, patient.pk)
    fault = Fault.objects.create(kind="fail_event", target="network-query.hie", patient=patient)
    url = links.link_make(
        origin=live_server.url,
        payload={"k": "b", "p": patient.pk, "s": ["hie"], "f": "json", "e": "network-query.hie"},
        ttl_seconds=600,
    )
    event = store(source_event("hie", patient_id=patient.pk, request_id="req_replay", url=url))

    for _attempt in range(2):
        with pytest.raises(BundleDownloadError):
            webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert "answered 500" in event.last_error
    assert not Snapshot.objects.filter(user=mfa_user, status=Snapshot.STATUS_COMPLETE).exists()

    give_reason(staff_client_mfa, mfa_user)
    page = staff_client_mfa.get(reverse("admin:accounts_user_journey", args=[mfa_user.pk])).content.decode()
    assert "answered 500" in page and "Reprocess this event" in page

    fault.delete()
    response = staff_client_mfa.post(
        reverse("admin:accounts_user_journey_act", args=[mfa_user.pk]), {"action": "reprocess", "target": event.pk}
    )
    assert response.status_code == 302
    assert no_enqueue == [("ias.event_process", {"event_id": event.pk})] * 2  # on arrival, and the replay
    webhooks.event_process(event_id=event.pk)  # what the worker does with that message

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED, event.last_error
    assert "records fetched" in event.outcome
    snapshot = Snapshot.objects.get(user=mfa_user, status=Snapshot.STATUS_COMPLETE)
    assert snapshot.status == Snapshot.STATUS_COMPLETE and snapshot.resource_count > 0
