"""Branded email: every message Homeport sends, in plain text and simple HTML, signed with the site
name and linking only to PORTAL_BASE_URL (never to whatever Host header a request carried); and the
record of every email sent, which staff read on a person's page and may send again."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import EmailSent, User


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


def branded_email_send(
    *, to: str, subject: str, template: str, context: dict[str, Any], resent_by: User | None = None
) -> EmailSent:
    """Send one branded message and note that it was sent."""
    branded_email_build(to=to, subject=subject, template=template, context=context).send()
    return email_send_record(
        to_email=to, template_prefix=template, subject=subject, context=context, resent_by=resent_by
    )


# --- emails sent ------------------------------------------------------------------------------------

_SECRET_CONTEXT_WORDS = ("key", "code", "token", "password", "secret")
_LINK_CONTEXT_WORDS = ("url", "link")


def email_context_keep(context: dict[str, Any], *, keep_links: bool = False) -> dict[str, Any]:
    """The plain values of an email's context that may be stored to send it again: never keys, codes
    or objects; links only for Homeport's own notices (`keep_links`), whose links lead to pages behind
    sign-in, never for allauth's, whose links carry secrets."""

    def allowed(name: str, value: Any) -> bool:
        lowered = name.lower()
        if not isinstance(value, str | int | float | bool) or any(word in lowered for word in _SECRET_CONTEXT_WORDS):
            return False
        is_link = any(word in lowered for word in _LINK_CONTEXT_WORDS) or (isinstance(value, str) and "://" in value)
        return keep_links or not is_link

    return {str(name): value for name, value in context.items() if allowed(str(name), value)}


def email_send_record(
    *,
    to_email: str,
    template_prefix: str,
    subject: str = "",
    user: User | None = None,
    context: dict[str, Any] | None = None,
    resent_by: User | None = None,
) -> EmailSent:
    """Note one email that was sent (call it after sending). allauth's adapter calls it for every
    email it sends; code that sends mail another way calls it itself."""
    if user is None:
        user = User.objects.filter(email__iexact=to_email).first()
    return EmailSent.objects.create(
        user=user,
        to_email=to_email,
        template_prefix=template_prefix[:120],
        subject=subject[:300],
        context=email_context_keep(context or {}, keep_links=not template_prefix.startswith("account/")),
        resent_by=resent_by,
    )


EMAIL_CONFIRMATION_PREFIX = "account/email/email_confirmation"
EMAILS_NOT_RESENT = (
    "account/email/password_reset",
    "account/email/login_code",
    "account/email/unknown_account",
    "account/email/account_already_exists",
)


def email_resend(*, email_id: int, request: HttpRequest) -> EmailSent | None:
    """Staff action: send one email again to the person. A confirmation gets a fresh link; a message
    carrying a secret link (password reset) is never resent by staff. Returns the new row, or None."""
    from allauth.account.adapter import get_adapter
    from allauth.account.models import EmailAddress

    sent = EmailSent.objects.select_related("user").get(pk=email_id)
    if sent.user is None or sent.template_prefix.startswith(EMAILS_NOT_RESENT):
        return None
    started = timezone.now()
    if sent.template_prefix.startswith(EMAIL_CONFIRMATION_PREFIX):
        address = EmailAddress.objects.filter(user=sent.user, email__iexact=sent.to_email).first()
        if address is None or address.verified:
            return None
        address.send_confirmation(request)
    elif sent.template_prefix.startswith("account/"):
        get_adapter(request).send_mail(sent.template_prefix, sent.to_email, {**sent.context, "user": sent.user})
    else:
        return branded_email_send(
            to=sent.to_email,
            subject=sent.subject,
            template=sent.template_prefix,
            context=sent.context,
            resent_by=request.user,  # type: ignore[arg-type]
        )
    newest = EmailSent.objects.filter(user=sent.user, sent_at__gte=started).order_by("-sent_at").first()
    if newest is not None:
        EmailSent.objects.filter(pk=newest.pk).update(resent_by=request.user)
    return newest
