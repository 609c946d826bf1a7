"""`/healthz` says whether Particle could be used, and why not (its purpose of use has no default)."""

import pytest


@pytest.mark.django_db
def test_particle_is_not_ready_without_a_purpose_and_says_why(client, settings):
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = ""
    body = client.get("/healthz").json()
    assert body["particle"]["ready"] is False
    assert body["particle"]["reason"].startswith("PARTICLE_PURPOSE_OF_USE is not set")


@pytest.mark.django_db
def test_particle_is_ready_with_a_documented_purpose_and_its_credentials(client, settings):
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = "TREATMENT"
    settings.PARTICLE_CLIENT_ID = "cid"
    settings.PARTICLE_CLIENT_SECRET = "secret"
    settings.PARTICLE_WEBHOOK_SECRET = "hook"
    assert client.get("/healthz").json()["particle"] == {"ready": True, "reason": ""}


def test_the_settings_give_no_purpose_of_use_by_default(monkeypatch):
    """Read the settings module afresh with nothing in the environment: the purpose stays empty."""
    import importlib

    import portal.settings

    monkeypatch.delenv("PARTICLE_PURPOSE_OF_USE", raising=False)
    fresh = importlib.reload(portal.settings)
    try:
        assert fresh.PARTICLE_PURPOSE_OF_USE == ""
    finally:
        importlib.reload(portal.settings)


@pytest.mark.django_db
def test_particle_is_not_ready_until_it_is_among_the_networks(client, settings):
    settings.HOMEPORT_NETWORKS = ["metriport"]
    settings.PARTICLE_PURPOSE_OF_USE = "TREATMENT"
    assert "HOMEPORT_NETWORKS" in client.get("/healthz").json()["particle"]["reason"]
