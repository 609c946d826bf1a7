"""The staff console's own pages read in Spanish for staff whose browser asks for it: the person page,
the reason page, and the admin pages Homeport customises (search help, filters, columns, actions).

Django translates the admin's own words; these tests look at the words Homeport adds."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from ias.models import NetworkQuery, WebhookEvent
from records.models import ExplanationSetting
from tests.i18n.pages import sentences, text_nodes
from tests.portal import test_staff_person_page as person_page
from tests.portal.staff_story import give_reason

pytestmark = pytest.mark.django_db

# The person page's fixtures: one person's journey with something of every kind.
network = person_page.network
no_enqueue = person_page.no_enqueue
story = person_page.story


def _both(client, url: str) -> tuple[str, str]:
    pages = []
    for language in ("en", "es"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, (url, response.status_code, response.get("Location"))
        pages.append(response.content.decode())
    return pages[0], pages[1]


def _no_english_sentence_left(english: str, spanish: str) -> None:
    assert '<html lang="es"' in spanish
    found = {text for text in sentences(english) if not text.startswith("{")}  # a webhook's raw JSON is data
    assert found, "the English page has text to compare"
    assert sorted(found & sentences(spanish)) == []


def _staff_pages(story, person) -> dict[str, str]:
    ExplanationSetting.objects.get_or_create(pk=1)
    return {
        "person page": reverse("admin:accounts_user_journey", args=[person.pk]),
        "people": reverse("admin:accounts_user_changelist") + "?q=Pharmacyfail",
        "webhook events of a person": reverse("admin:ias_webhookevent_changelist") + f"?person={person.pk}",
        "one webhook event": reverse("admin:ias_webhookevent_change", args=[story.event.pk]),
        "queries": reverse("admin:ias_networkquery_changelist"),
        "snapshots": reverse("admin:records_snapshot_changelist"),
        "resources": reverse("admin:records_resource_changelist"),
        "explanations switch": reverse("admin:records_explanationsetting_changelist"),
    }


def test_staff_pages_have_no_english_sentence_in_spanish(staff_client_mfa, mfa_user, story):
    give_reason(staff_client_mfa, mfa_user)
    for name, url in _staff_pages(story, mfa_user).items():
        english, spanish = _both(staff_client_mfa, url)
        try:
            _no_english_sentence_left(english, spanish)
        except AssertionError as problem:
            raise AssertionError(f"{name}: {problem}") from problem


def test_the_person_form_links_the_person_page_in_spanish(staff_client_mfa, mfa_user):
    """The change form itself is Django's (its permission names are the models' own); Homeport adds a link."""
    english, spanish = _both(staff_client_mfa, reverse("admin:accounts_user_change", args=[mfa_user.pk]))
    assert "Person page (journey)" in english
    assert "Página de la persona (sus pasos)" in spanish and "Person page (journey)" not in spanish


def test_the_reason_page_asks_in_spanish(staff_client_mfa, mfa_user):
    url = reverse("admin:accounts_user_access_reason", args=[mfa_user.pk]) + "?next=/admin/"
    english, spanish = _both(staff_client_mfa, url)
    _no_english_sentence_left(english, spanish)
    for words in ("¿Por qué abre los datos de salud de esta persona?", "Investigar una solicitud que falló"):
        assert words in spanish
    refused = staff_client_mfa.post(url, {"choice": "Other (explain below)"}, HTTP_ACCEPT_LANGUAGE="es")
    assert "Explique el motivo en pocas palabras." in refused.content.decode()


def test_the_person_page_names_every_moment_in_spanish(staff_client_mfa, mfa_user, story):
    """The timeline's short labels are below the sentence length: each is checked by name."""
    give_reason(staff_client_mfa, mfa_user)
    english, spanish = _both(staff_client_mfa, reverse("admin:accounts_user_journey", args=[mfa_user.pk]))
    expected = {
        "Account created": "Cuenta creada",
        "Second factor enrolled: TOTP Authenticator": "Segundo factor agregado: Autenticador TOTP",
        "Network patient link created": "Vínculo con el paciente en la red creado",
        "Identity verification (IAL2)": "Verificación de identidad (IAL2)",
        "Record snapshot from hie": "Importación del registro desde hie",
        "Opened: Record summary": "Abierto: Resumen del registro",
        "Email sent: [Homeport] Password changed": "Correo enviado: [Homeport] Password changed",
        "Timeline, newest first": "Cronología, lo más reciente primero",
        "Reprocess this event": "Volver a procesar este evento",
        "Fetch pharmacy records again": "Volver a obtener los registros de pharmacy",
    }
    english_nodes, spanish_nodes = set(text_nodes(english)), set(text_nodes(spanish))
    for english_words, spanish_words in expected.items():
        assert english_words in english_nodes, english_words
        assert spanish_words in spanish_nodes and english_words not in spanish_nodes, spanish_words
    assert "by The person" in english and "por: La persona" in spanish


def test_staff_action_messages_in_spanish(staff_client_mfa, mfa_user, story, no_enqueue):
    response = staff_client_mfa.post(
        reverse("admin:ias_webhookevent_changelist"),
        {"action": "reprocess", "_selected_action": [story.event.pk]},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Eventos puestos de nuevo en la cola: 1."]
    response = staff_client_mfa.post(
        reverse("admin:accounts_user_journey_act", args=[mfa_user.pk]),
        {"action": "reprocess", "target": story.event.pk},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown[-1:] == [
        "El evento está de nuevo en la cola; vuelva a cargar esta página en un momento para ver el resultado."
    ]
    assert WebhookEvent.objects.get(pk=story.event.pk).status == WebhookEvent.Status.PENDING
    assert NetworkQuery.objects.filter(user=mfa_user).exists()


def test_the_person_reads_the_staff_reason_in_spanish(staff_client_mfa, client_mfa, mfa_user, story):
    give_reason(staff_client_mfa, mfa_user, choice="Other (explain below)", details="ticket 4711")
    staff_client_mfa.get(reverse("admin:accounts_user_journey", args=[mfa_user.pk]))
    give_reason(staff_client_mfa, mfa_user)
    staff_client_mfa.post(
        reverse("admin:accounts_user_journey_act", args=[mfa_user.pk]), {"action": "export"}
    ).getvalue()
    page = client_mfa.get(reverse("records:access_history"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "(Otro motivo: ticket 4711)" in page
    assert "(Investigar una solicitud que falló o está detenida)" in page
    assert "Investigating a failed" not in page and "Other: ticket" not in page


def test_the_admin_names_every_model_in_spanish(staff_client_mfa):
    """The sidebar and the index list every model by its own translatable name."""
    from django.apps import apps
    from django.utils import translation

    ours = [m for m in apps.get_models() if m._meta.app_label in ("accounts", "ias", "records", "portal")]
    untranslated = []
    for model in ours:
        for attr in ("verbose_name", "verbose_name_plural"):
            with translation.override("en"):
                english = str(getattr(model._meta, attr))
            with translation.override("es"):
                spanish = str(getattr(model._meta, attr))
            if english == spanish:
                untranslated.append(f"{model._meta.label}.{attr}: {english}")
    assert untranslated == []
    spanish = staff_client_mfa.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    for shown in ("Enlaces compartidos", "Eventos de webhook", "Usuarios", "Importaciones"):
        assert shown in spanish, shown
    for english in (">Shares<", ">Webhook events<", ">Snapshots<", ">Consents<"):
        assert english not in spanish, english
