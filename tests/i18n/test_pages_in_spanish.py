"""Every page outside the record reads in Spanish when the browser asks for it: no sentence of the
English page is left in the Spanish one."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.i18n.pages import PAGES, Page, sentences


def _render(page: Page, client: Client, args: list, language: str) -> str:
    response = client.get(reverse(page.url_name, args=args) + page.query, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, (page.url_name, response.status_code, response.get("Location"))
    return response.content.decode()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: f"{page.url_name}{'' if page.signed_in else '-anonymous'}")
@pytest.mark.django_db
def test_page_has_no_english_sentence_in_spanish(page: Page, make_mfa_client):
    if page.signed_in:
        client = make_mfa_client()
        user = client.session.get("_auth_user_id")
        from accounts.models import User

        args = page.setup(User.objects.get(pk=user)) if page.setup else []
    else:
        client, args = Client(), []
    english = _render(page, client, args, "en")
    spanish = _render(page, client, args, "es")
    english_sentences = sentences(english, allow=page.allow)
    assert english_sentences, "the English page has text to compare"
    assert '<html lang="es">' in spanish
    left_in_english = sorted(english_sentences & sentences(spanish, allow=page.allow))
    assert left_in_english == []


def test_error_pages_in_spanish():
    from django.template.loader import render_to_string
    from django.utils import translation

    for template in ("500.html", "busy.html"):
        with translation.override("en"):
            english = sentences(render_to_string(template, {"OPERATOR_CONTACT_EMAIL": "help@example.org"}))
        with translation.override("es"):
            spanish = sentences(render_to_string(template, {"OPERATOR_CONTACT_EMAIL": "help@example.org"}))
        assert english
        assert english & spanish == set(), template
