"""Create a staff account that can sign in at once: its email counts as verified, and the password
is printed once (or taken from --password). On first sign-in the person enrols a second factor,
then lands in the admin."""

from __future__ import annotations

import secrets

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User


class Command(BaseCommand):
    help = "Create a staff account (superuser unless --limited) with a verified email and a one-time password."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", default="", help="Use this password instead of a generated one.")
        parser.add_argument("--limited", action="store_true", help="Staff without superuser rights.")

    def handle(self, *args, email: str, password: str, limited: bool, **options) -> None:
        email = email.strip().lower()
        if "@" not in email:
            raise CommandError("Give an email address: --email someone@example.com")
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(f"{email} already has an account.")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, is_staff=True, is_superuser=not limited)
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        self.stdout.write(f"Created staff account {email}.")
        if generated:
            self.stdout.write(f"Password (shown once, write it down): {password}")
        self.stdout.write("Sign in at /accounts/login/, enrol a second factor, and you land in /admin/.")
