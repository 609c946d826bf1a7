"""Branded email: every message Homeport sends, in plain text and simple HTML, signed with the site
name and linking only to PORTAL_BASE_URL (never to whatever Host header a request carried)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def email_site_context() -> dict[str, Any]:
    """What every email template may use: the site's name, its address, where to get help."""
    return {
        "site_name": settings.SITE_NAME,
        "base_url": settings.PORTAL_BASE_URL,
        "site_domain": urlsplit(settings.PORTAL_BASE_URL).netloc,
        "support_email": settings.SUPPORT_EMAIL,
    }


def portal_url(path: str) -> str:
    """An absolute link for an email, from PORTAL_BASE_URL and a path."""
    return settings.PORTAL_BASE_URL + path


def email_html_from_text(*, subject: str, text: str) -> str:
    """The simple HTML version of a plain-text message (links made clickable, nothing else added)."""
    return render_to_string("email/base.html", {**email_site_context(), "subject": subject, "body_text": text})


def branded_email_build(*, to: str, subject: str, template: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    """A message from `<template>.txt`, with its HTML alternative, ready to send."""
    full = {**email_site_context(), **context}
    subject_line = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}"
    text = render_to_string(f"{template}.txt", full).strip() + "\n"
    message = EmailMultiAlternatives(subject_line, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(email_html_from_text(subject=subject, text=text), "text/html")
    return message


def branded_email_send(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    branded_email_build(to=to, subject=subject, template=template, context=context).send()
