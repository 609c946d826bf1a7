"""Coming back is easy: home, the menu and the record show the last search and lead to a new one."""

import pytest
from django.urls import reverse

from ias import queries
from ias.network import SourceChoice
from tests.ias.conftest import aal2_passed, verified
from tests.ias.fakes import FakeNetwork, install, source_event
from tests.ias.helpers import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def network():
    from ias import metriport

    fake = FakeNetwork()
    install(fake)
    yield fake
    metriport.use_transport(None)


@pytest.fixture
def returning(mfa_user, network, monkeypatch):
    """A person whose one search finished and whose records are saved."""
    from tests.ias.conftest import saved_snapshot

    monkeypatch.setattr("ias.delivery.records_ingest_from_url", lambda **kw: saved_snapshot())
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *a, **k: None)
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    assert query.request_id is not None
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    return query


def test_home_shows_the_last_search_and_get_new_records(client_mfa, returning):
    page = client_mfa.get(reverse("home")).content.decode()
    from records.templatetags.record_time import when

    day = when(returning.created_at)
    assert f"Your last search for records was on <strong data-last-search>{day}</strong>" in page
    assert f'href="{reverse("ias:aal2")}" data-get-new-records>Get new records</a>' in page


def test_the_menu_and_the_record_lead_to_a_new_search(client_mfa, returning):
    page = client_mfa.get(reverse("records:summary")).content.decode()
    assert page.count("data-get-new-records") == 2  # the menu and the record's banner
    assert "Last search for records:" in page
    check = client_mfa.get(reverse("ias:aal2"))
    assert check.status_code == 200
    assert "this check is all that is needed to fetch your records again" in check.content.decode()


def test_while_records_are_still_being_added_the_record_says_so(client_mfa, mfa_user, network, monkeypatch):
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *a, **k: None)
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    page = client_mfa.get(reverse("records:summary")).content.decode()
    assert "Still adding records" in page
    assert f'href="{reverse("ias:progress", args=[query.public_id])}"' in page
    assert "data-get-new-records" not in page  # one search at a time
    home = client_mfa.get(reverse("home")).content.decode()
    assert "Your search is running" in home
