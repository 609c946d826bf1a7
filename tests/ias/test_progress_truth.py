"""Progress tells the truth: a source is done only when its records are saved, with a count while saving."""

import pytest
from django.urls import reverse

from ias import delivery, queries, selectors, webhooks
from ias.models import NetworkQuery, QuerySource
from ias.network import SourceChoice
from records.errors import BundleDownloadError, BundleLinkExpired
from tests.ias.conftest import aal2_passed, saved_snapshot, verified
from tests.ias.fakes import consolidated_event, source_event
from tests.ias.helpers import deliver, store

pytestmark = pytest.mark.django_db


def start_query(user, sources=("hie",)):
    aal2_passed(user)
    return queries.network_query_start(
        user=user, sources=SourceChoice(**{s: s in sources for s in ("hie", "pharmacy", "lab")})
    )


def fresh(query: NetworkQuery) -> NetworkQuery:
    return NetworkQuery.objects.get(pk=query.pk)


@pytest.fixture
def slow_save(monkeypatch, clock):
    """A records ingest that reports progress and lets the test look at the progress page mid-save.
    `seconds_per_chunk` is how long each chunk of rows takes to write (the clock moves on by it)."""

    class Save:
        seen: list[dict] = []
        counts_seen: list[int | None] = []
        seconds_per_chunk = 2.0
        result = saved_snapshot(Patient=1, Observation=12400, Condition=3)

        def __call__(self, *, user_id, on_progress=None, **kwargs):
            for count in (2000, 12400):
                clock.now += self.seconds_per_chunk
                on_progress(count)
                self.counts_seen.append(selectors.records_saving_count(user_id=user_id))
            query = NetworkQuery.objects.get(user_id=user_id, kind="network")
            self.seen.append(selectors.progress_for(query=fresh(query)))
            return self.result

    save = Save()
    save.seen, save.counts_seen = [], []
    monkeypatch.setattr("records.services.snapshot_ingest_from_url", save)
    return save


def test_a_source_reads_saving_with_a_count_until_its_records_are_in(mfa_user, network, no_enqueue, slow_save):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))

    during = slow_save.seen[0]
    row = during["sources"][0]
    assert during["terminal"] is True  # the network says the search has finished...
    assert during["settled"] is False  # ...but the records are not in yet
    assert during["status_label"] == "Still adding records"
    assert row["records"] == "saving" and row["done"] is False
    assert row["detail"] == "Saving your records… 12,400 so far."

    after = selectors.progress_for(query=fresh(query))
    assert after["settled"] is True and after["outcome"] == "ready"
    assert after["sources"][0]["status_label"] == "Done"
    assert after["sources"][0]["detail"] == "Saved a copy of your record from Metriport: 12,403 items."
    assert selectors.records_saving_count(user_id=mfa_user.pk) is None  # the count is cleared after the save
    assert slow_save.counts_seen == [2000, 12400]


def test_a_save_over_within_a_second_publishes_no_count(mfa_user, network, no_enqueue, slow_save, monkeypatch):
    """The page asks every 2 s: a count it could never read is not written to the shared cache at all."""
    from django.core.cache import caches

    written = []
    cache = caches["progress"]
    monkeypatch.setattr(cache, "set", lambda *args, **kwargs: written.append(args))
    slow_save.seconds_per_chunk = 0.4
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))

    assert written == []
    assert slow_save.counts_seen == [None, None]
    assert slow_save.seen[0]["sources"][0]["detail"] == "Saving your records…"
    assert selectors.progress_for(query=fresh(query))["sources"][0]["status_label"] == "Done"


def test_a_save_publishes_its_count_once_it_has_run_a_second(mfa_user, network, no_enqueue, slow_save):
    slow_save.seconds_per_chunk = 0.6  # the first chunk at 0.6 s, the second at 1.2 s
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))

    assert slow_save.counts_seen == [None, 12400]
    assert slow_save.seen[0]["sources"][0]["detail"] == "Saving your records… 12,400 so far."
    assert selectors.records_saving_count(user_id=mfa_user.pk) is None


def test_a_count_left_by_a_save_that_died_is_cleared_as_the_next_save_begins(mfa_user, network, no_enqueue, slow_save):
    delivery.records_saving_note(user_id=mfa_user.pk, count=4000)  # a worker died mid-save, its count left behind
    slow_save.seconds_per_chunk = 0.4
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))

    assert slow_save.counts_seen == [None, None]
    assert slow_save.seen[0]["sources"][0]["detail"] == "Saving your records…"


def test_the_progress_json_says_not_settled_while_records_are_saving(client_mfa, mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, url=""))
    row = query.sources.get()
    assert row.records == QuerySource.Records.EMPTY  # a finished source linking nothing added nothing
    QuerySource.objects.filter(pk=row.pk).update(records=QuerySource.Records.SAVING)
    delivery.records_saving_note(user_id=mfa_user.pk, count=4000)
    data = client_mfa.get(reverse("ias:progress_status", args=[query.public_id])).json()
    assert data["terminal"] is True and data["settled"] is False
    assert data["sources"][0]["detail"] == "Saving your records… 4,000 so far."
    page = client_mfa.get(reverse("ias:progress", args=[query.public_id])).content.decode()
    assert "This page updates by itself until every source" in page
    assert "Read my record" not in page
    delivery.records_saving_note(user_id=mfa_user.pk, count=None)


def test_an_expired_link_leaves_waiting_once_the_fresh_copy_arrives(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    ingested.fail = [BundleLinkExpired()]
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, when="2026-01-01T10:00:00Z"))
    row = selectors.progress_for(query=fresh(query))["sources"][0]
    assert (row["records"], row["status_label"], row["done"]) == ("awaiting", "Getting a fresh copy…", False)
    consolidated = NetworkQuery.objects.get(kind="consolidated")
    assert consolidated.request_id is not None
    # The consolidated query lost its link to the search (e.g. merged with another one): still answered.
    NetworkQuery.objects.filter(pk=consolidated.pk).update(parent=None)
    deliver(
        consolidated_event(
            patient_id="pat_1", request_id=consolidated.request_id, url="https://b.test/c", when="2026-01-01T10:01:00Z"
        )
    )
    after = selectors.progress_for(query=fresh(query))
    assert after["sources"][0]["records"] == "fetched"
    assert after["settled"] is True


def test_a_bundle_holding_only_the_patient_means_no_records(mfa_user, network, no_enqueue, slow_save):
    verified(mfa_user, "pat_1")
    slow_save.result = saved_snapshot(Patient=1)
    query = start_query(mfa_user, sources=("hie", "lab"))
    for source in ("hie", "lab"):
        deliver(source_event(source, patient_id="pat_1", request_id=query.request_id))
    progress = selectors.progress_for(query=fresh(query))
    assert [r["records"] for r in progress["sources"]] == ["empty", "empty"]
    assert progress["settled"] is True and progress["outcome"] == "no_records"
    assert progress["status_label"] == "No records found"


def test_a_save_that_fails_is_a_state_the_person_can_read_and_retry(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, sources=("hie", "pharmacy"))
    ingested.fail = [BundleDownloadError("not a bundle", transient=False)]
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, when="2026-01-01T10:00:00Z"))
    deliver(
        source_event(
            "pharmacy",
            patient_id="pat_1",
            request_id=query.request_id,
            status="failed",
            url="",
            when="2026-01-01T10:00:01Z",
        )
    )
    progress = selectors.progress_for(query=fresh(query))
    rows = {r["type"]: r for r in progress["sources"]}
    assert (rows["hie"]["status_label"], rows["hie"]["retry"]) == ("Not saved", True)
    assert (rows["pharmacy"]["status_label"], rows["pharmacy"]["retry"]) == ("Failed", True)
    assert progress["settled"] is True and progress["outcome"] == "failed"
    assert progress["retry_sources"] == ["hie", "pharmacy"]


def test_a_retried_event_does_not_leave_the_source_saving(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    ingested.fail = [BundleDownloadError("503", transient=True)]
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    with pytest.raises(BundleDownloadError):
        webhooks.event_process(event_id=event.pk)
    row = query.sources.get()
    assert (row.status, row.records) == ("completed", QuerySource.Records.NONE)  # not "saving" forever
    assert selectors.progress_for(query=fresh(query))["sources"][0]["status_label"] == "Getting records…"


def test_records_that_never_arrive_end_as_a_failure_the_person_can_retry(mfa_user, network, no_enqueue, settings):
    from datetime import timedelta

    from django.utils import timezone

    from ias import sweeper

    verified(mfa_user, "pat_1")
    query = start_query(mfa_user)
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, url=""))
    QuerySource.objects.filter(query=query).update(records=QuerySource.Records.AWAITING)
    NetworkQuery.objects.filter(pk=query.pk).update(settled_at=None)
    assert selectors.progress_for(query=fresh(query))["settled"] is False
    later = timezone.now() + timedelta(seconds=settings.IAS_QUERY_TIMEOUT_SECONDS + 60)
    assert sweeper.sweep_run(now=timezone.now())["records_given_up"] == 0  # not yet
    assert sweeper.sweep_run(now=later)["records_given_up"] == 1
    progress = selectors.progress_for(query=fresh(query))
    assert progress["settled"] is True and progress["retry_sources"] == ["hie"]


def test_each_saved_row_names_its_network_and_speaks_of_its_own_copy(mfa_user, network, no_enqueue):
    """Two networks, and sources saved one after another: no row may claim what the whole record
    holds now, since a later copy or the other network's adds to it."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, sources=("hie", "lab"))
    query.sources.filter(source_type="hie").update(status="completed", records="fetched", records_saved=120)
    query.sources.filter(source_type="lab").update(status="completed", records="fetched", records_saved=1)
    other = NetworkQuery.objects.create(user=mfa_user, kind="network", network="particle", parent=query)
    QuerySource.objects.create(query=other, source_type="all", status="completed", records="fetched", records_saved=305)

    progress = selectors.progress_for(query=fresh(query))
    metriport, particle = progress["networks"]
    assert [row["detail"] for row in metriport["sources"]] == [
        "Saved a copy of your record from Metriport: 120 items.",
        "Saved a copy of your record from Metriport: 1 item.",
    ]
    assert [row["detail"] for row in particle["sources"]] == ["Saved a copy of your record from Particle: 305 items."]
