"""One record from two networks: ids never clash, references stay within their network, the same
item reported through both is one row listing every source, and retiring is per network."""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse

from records import selectors
from records.models import Resource, Snapshot
from tests.records.two_networks import (
    NORTHSTAR,
    RIVERSIDE,
    ingest_from,
    metriport_bundle,
    particle_bundle,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(mfa_user, private_storage_dir):
    ingest_from(mfa_user, metriport_bundle(), network="metriport")
    ingest_from(mfa_user, particle_bundle(), network="particle")
    return mfa_user


def _row(user, network: str, reference: str) -> Resource:
    kind, rid = reference.split("/")
    return Resource.objects.get(user=user, network=network, resource_type=kind, resource_id=rid)


def _page(client, name: str, *args) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def test_the_same_ids_from_two_networks_are_two_items(merged):
    metriport_obs, particle_obs = (
        _row(merged, "metriport", "Observation/obs-1"),
        _row(merged, "particle", "Observation/obs-1"),
    )
    assert (metriport_obs.code, metriport_obs.value_num) == ("4548-4", 7.2)
    assert (particle_obs.code, particle_obs.value_num) == ("2345-7", 5.4)
    assert _row(merged, "metriport", "Organization/org-1").raw["name"] == RIVERSIDE
    assert _row(merged, "particle", "Organization/org-1").raw["name"] == NORTHSTAR
    assert Resource.objects.filter(user=merged, retired_at__isnull=True).count() == 10 + 11
    assert list(Snapshot.objects.filter(user=merged).order_by("id").values_list("network", flat=True)) == [
        "metriport",
        "particle",
    ]


def test_an_ingest_without_a_network_is_metriports(mfa_user, private_storage_dir):
    from tests.records.conftest import ingest_bundle

    snapshot = ingest_bundle(mfa_user, metriport_bundle())
    assert snapshot.network == "metriport"
    assert set(Resource.objects.filter(user=mfa_user).values_list("network", flat=True)) == {"metriport"}


def test_references_resolve_within_the_network_that_sent_them(merged):
    metriport_obs, particle_obs = (
        _row(merged, "metriport", "Observation/obs-1"),
        _row(merged, "particle", "Observation/obs-1"),
    )
    assert metriport_obs.source_org == RIVERSIDE and particle_obs.source_org == NORTHSTAR
    assert particle_obs.parent_ref == "DiagnosticReport/dr-1" and metriport_obs.parent_ref == ""
    particle_detail = selectors.resource_detail(user=merged, pk=particle_obs.pk)
    assert particle_detail.encounter is not None and particle_detail.encounter.display.name == "Lab visit"
    assert [s.name for s in particle_detail.sources if s.name == NORTHSTAR]  # from Particle's Provenance/prov-1
    metriport_detail = selectors.resource_detail(user=merged, pk=metriport_obs.pk)
    assert metriport_detail.encounter is not None and metriport_detail.encounter.display.name == "Office visit"
    assert NORTHSTAR not in {s.name for s in metriport_detail.sources}  # Particle's prov-1 targets its own obs-1
    assert metriport_detail.provenances == []
    particle_panel = selectors.resource_detail(user=merged, pk=_row(merged, "particle", "DiagnosticReport/dr-1").pk)
    assert [c.resource.code for c in particle_panel.children] == ["2345-7"]
    visit = selectors.resource_detail(user=merged, pk=_row(merged, "metriport", "Encounter/enc-1").pk)
    assert sorted(c.resource.code for c in visit.children) == ["2823-3", "4548-4"]


def test_labs_list_nests_each_panel_s_own_results(merged, make_mfa_client):
    listing = selectors.category_list(user=merged, category="labs")
    panels = {i.resource.network: i for i in listing.items if i.resource.resource_type == "DiagnosticReport"}
    assert [c.resource.code for c in panels["metriport"].children] == ["2823-3"]
    assert [c.resource.code for c in panels["particle"].children] == ["2345-7"]


def test_timeline_puts_each_item_under_its_own_network_s_visit(merged):
    _page_obj, visits = selectors.timeline_for(user=merged)
    by_name = {v.encounter.display.name: v for v in visits}
    codes = {name: sorted(i.resource.code for items in v.items.values() for i in items) for name, v in by_name.items()}
    assert codes == {"Office visit": ["2823-3", "4548-4"], "Lab visit": ["2345-7"]}


def test_the_same_item_from_both_networks_is_one_row_with_both_sources(merged):
    for category, code, source in (
        ("labs", "4548-4", RIVERSIDE),
        ("conditions", "E11.9", RIVERSIDE),
        ("immunizations", "140", ""),
    ):
        listing = selectors.category_list(user=merged, category=category)
        rows = [i for i in listing.items if i.resource.code == code]
        assert len(rows) == 1, category
        assert rows[0].network_words == "via Metriport and via Particle", category
        assert rows[0].sources == ([source] if source else []), category
    allergies = selectors.category_list(user=merged, category="allergies").items
    assert len(allergies) == 1 and allergies[0].network_words == "via Metriport and via Particle"
    glucose = next(
        i
        for i in selectors.category_list(user=merged, category="labs").items
        for i in [i, *i.children]
        if i.resource.code == "2345-7"
    )
    assert glucose.network_words == "via Particle"
    counts = selectors.category_counts(user=merged)
    assert (counts["conditions"], counts["allergies"], counts["immunizations"]) == (1, 1, 1)
    assert counts["labs"] == 3  # two panels and the HbA1c, once
    assert selectors.lab_result_count(user=merged) == 3  # HbA1c once, potassium, glucose


def test_summary_search_and_trend_show_the_item_once(merged):
    summary = selectors.summary_for(user=merged)
    assert [i.resource.code for i in summary.conditions] == ["E11.9"]
    assert summary.conditions[0].network_words == "via Metriport and via Particle"
    assert len(summary.allergies) == 1 and len(summary.immunizations) == 1
    found = selectors.category_list(user=merged, category="labs", q="a1c").items
    assert [i.resource.code for i in found] == ["4548-4"]
    trend = selectors.trend_for(user=merged, pk=_row(merged, "metriport", "Observation/obs-1").pk)
    assert [p["value"] for p in trend.points] == [7.2]


def test_conservative_keys_keep_different_facts_apart(merged, mfa_user):
    later = particle_bundle()
    for entry in later["entry"]:
        resource = entry["resource"]
        if resource.get("resourceType") == "Immunization":
            resource["occurrenceDateTime"] = "2024-10-03T15:30:00.000Z"  # another season's flu shot
        if resource.get("resourceType") == "Condition":
            resource["clinicalStatus"] = {"coding": [{"code": "resolved"}]}  # not both going on
    ingest_from(mfa_user, later, network="particle", request_id="req-2")
    assert len(selectors.category_list(user=mfa_user, category="immunizations").items) == 2
    assert len(selectors.category_list(user=mfa_user, category="conditions").items) == 2


def test_a_new_particle_bundle_retires_only_particle_items(merged):
    only_glucose = particle_bundle()
    only_glucose["entry"] = [
        e for e in only_glucose["entry"] if e["resource"]["id"] in ("p", "obs-1", "enc-1", "org-1")
    ]
    snapshot = ingest_from(merged, only_glucose, network="particle", request_id="req-2")
    live = Resource.objects.filter(user=merged, retired_at__isnull=True)
    assert snapshot.retired_count == 7
    assert live.filter(network="metriport").count() == 10
    assert live.filter(network="particle").count() == 4
    a1c = selectors.category_list(user=merged, category="labs", q="a1c").items
    assert len(a1c) == 1 and a1c[0].network_words == "via Metriport"


def test_a_new_metriport_bundle_retires_only_metriport_items_and_particle_s_copy_takes_over(merged):
    without_a1c = metriport_bundle()
    without_a1c["entry"] = [e for e in without_a1c["entry"] if e["resource"]["id"] != "obs-1"]
    snapshot = ingest_from(merged, without_a1c, network="metriport", request_id="req-2")
    assert snapshot.retired_count == 1
    assert Resource.objects.filter(user=merged, network="particle", retired_at__isnull=True).count() == 11
    a1c = selectors.category_list(user=merged, category="labs", q="a1c").items
    assert len(a1c) == 1 and a1c[0].resource.network == "particle" and a1c[0].network_words == "via Particle"
    ingest_from(merged, metriport_bundle(), network="metriport", request_id="req-3")
    assert len(selectors.category_list(user=merged, category="labs", q="a1c").items) == 1


def test_the_same_bundle_from_the_same_network_twice_changes_nothing(merged):
    again = ingest_from(merged, copy.deepcopy(particle_bundle()), network="particle", request_id="req-2")
    assert (again.created_count, again.updated_count, again.retired_count) == (0, 0, 0)


def test_item_page_says_who_reported_it_and_through_which_networks(merged, client_mfa):
    a1c = _row(merged, "metriport", "Observation/obs-1")
    page = _page(client_mfa, "records:item", a1c.pk)
    assert f"Reported by {RIVERSIDE}, via Metriport and via Particle" in page
    assert "Received through</dt><dd>Metriport</dd>" in page
    assert "Reported by 2 sources" in page and "· via Particle" in page
    particle_copy = _row(merged, "particle", "Observation/3c1e9d7a-0f4b-4e55-9a55-2f0c1b7e8d21")
    assert f'href="/records/item/{particle_copy.pk}/"' in page
    assert "Received through</dt><dd>Particle</dd>" in _page(client_mfa, "records:item", particle_copy.pk)
    glucose = _page(client_mfa, "records:item", _row(merged, "particle", "Observation/obs-1").pk)
    assert f"Reported by {NORTHSTAR}, via Particle" in glucose and "via Metriport" not in glucose


def test_list_pages_say_both_networks_in_english_and_spanish(merged, client_mfa):
    english = _page(client_mfa, "records:category", "conditions")
    assert "via Metriport and via Particle" in english and english.count("Reported by") == 1
    spanish = client_mfa.get(reverse("records:category", args=["conditions"]), HTTP_ACCEPT_LANGUAGE="es")
    assert "Informado por" in spanish.content.decode()
    assert "a través de Metriport y a través de Particle" in spanish.content.decode()
    item = client_mfa.get(
        reverse("records:item", args=[_row(merged, "metriport", "Condition/cond-1").pk]), HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "Recibido a través de" in item and "a través de Metriport y a través de Particle" in item
    summary = _page(client_mfa, "records:summary")
    assert summary.count("via Metriport and via Particle") >= 3  # diabetes, the allergy, the flu shot


def test_one_network_record_reads_as_before(mfa_user, client_mfa, private_storage_dir):
    ingest_from(mfa_user, metriport_bundle(), network="metriport")
    page = _page(client_mfa, "records:category", "conditions")
    assert "via Metriport" not in page and f"From {RIVERSIDE}" in page


def test_exports_keep_every_copy_with_its_network(merged, client_mfa):
    bundle = selectors.record_export_bundle(user_id=merged.pk)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls)) == 21
    networks = {
        (e["resource"]["resourceType"], e["resource"]["id"], t["code"])
        for e in bundle["entry"]
        for t in e["resource"]["meta"]["tag"]
        if t["system"] == selectors.NETWORK_TAG_SYSTEM
    }
    assert {("Observation", "obs-1", "metriport"), ("Observation", "obs-1", "particle")} <= networks
    assert len(networks) == 21
    streamed = b"".join(client_mfa.get(reverse("records:download_bundle")).streaming_content).decode()
    assert streamed.count('"code":"particle"') == 11 and streamed.count('"code":"metriport"') == 10


def test_a_share_keeps_two_networks_items_with_the_same_id_apart(merged):
    from datetime import UTC, datetime

    from records.sharing import ips_bundle
    from records.sharing_selectors import share_sections_for

    sections = share_sections_for(user=merged, scope="everything", categories=[])
    bundle = ips_bundle(user=merged, sections=sections, extra=[], patient_raw=None, made_at=datetime.now(UTC))
    labs = [e["resource"] for e in bundle["entry"] if e["resource"].get("resourceType") == "Observation"]
    assert sorted(r["code"]["coding"][0]["code"] for r in labs if r["id"] == "obs-1") == ["2345-7", "4548-4"]
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    glucose = next(r for r in labs if r["id"] == "obs-1" and r["code"]["coding"][0]["code"] == "2345-7")
    visit = urls[glucose["encounter"]["reference"]]
    assert visit["type"] == [{"text": "Lab visit"}]  # Particle's enc-1, not Metriport's


def test_the_access_log_names_the_network_of_another_network_s_item(merged, client_mfa):
    from accounts.models import AccessLogEntry

    _page(client_mfa, "records:item", _row(merged, "particle", "Observation/obs-1").pk)
    _page(client_mfa, "records:item", _row(merged, "metriport", "Observation/obs-1").pk)
    targets = list(AccessLogEntry.objects.filter(action="records:item").order_by("id").values_list("target", flat=True))
    assert targets == ["resource:particle:Observation/obs-1", "resource:Observation/obs-1"]
