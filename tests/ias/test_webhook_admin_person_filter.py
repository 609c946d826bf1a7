"""The webhook list filters by person and by status, finds a person's events by email, and names the
person each event concerns."""

import pytest
from django.urls import reverse

from ias.models import WebhookEvent
from tests.ias.conftest import verified
from tests.ias.fakes import envelope, source_event
from tests.ias.helpers import store

pytestmark = pytest.mark.django_db

URL = "admin:ias_webhookevent_changelist"


@pytest.fixture
def events(mfa_user, other_user):
    from ias.models import NetworkQuery

    verified(mfa_user, "pat_mine")
    verified(other_user, "pat_theirs")
    NetworkQuery.objects.create(user=mfa_user, request_id="req_mine", status="processing")
    mine_by_patient = store(source_event("hie", patient_id="pat_mine", request_id="req_other_source"))
    mine_by_request = store(envelope("network-query.lab", request_id="req_mine"))
    theirs = store(source_event("lab", patient_id="pat_theirs", request_id="req_theirs"))
    stranger = store(source_event("hie", patient_id="pat_unknown", request_id="req_unknown"))
    WebhookEvent.objects.filter(pk=mine_by_request.pk).update(status=WebhookEvent.Status.FAILED)
    return {"mine": {mine_by_patient, mine_by_request}, "theirs": theirs, "stranger": stranger}


def _rows(client, **params) -> set:
    response = client.get(reverse(URL), params)
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def test_filter_by_person(staff_client_mfa, mfa_user, other_user, events):
    assert _rows(staff_client_mfa, person=mfa_user.pk) == events["mine"]
    assert _rows(staff_client_mfa, person=other_user.pk) == {events["theirs"]}


def test_filter_by_person_and_status(staff_client_mfa, mfa_user, events):
    failed = _rows(staff_client_mfa, person=mfa_user.pk, status__exact="failed")
    assert failed == {e for e in events["mine"] if e.event_type == "network-query.lab"}
    assert len(failed) == 1


def test_search_by_email_finds_the_persons_events(staff_client_mfa, mfa_user, events):
    assert _rows(staff_client_mfa, q=mfa_user.email) == events["mine"]


def test_each_row_links_to_the_persons_page(staff_client_mfa, mfa_user, events):
    page = staff_client_mfa.get(reverse(URL)).content.decode()
    assert reverse("admin:accounts_user_journey", args=[mfa_user.pk]) in page
    assert page.count('<td class="field-person">—</td>') == 1
