"""Index every person's name (keyed hashes) from the encrypted demographics, so staff can find people
whose details were saved before names were indexed, or after SECRET_KEY changed."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.crypto import DecryptionError
from accounts.services import person_name_index
from ias.models import NetworkPatient
from ias.selectors import network_patient_demographics


class Command(BaseCommand):
    help = "Rebuild the hashed name tokens staff search by, from the encrypted demographics."

    def handle(self, *args, **options) -> None:
        indexed = unreadable = 0
        for link in NetworkPatient.objects.select_related("user").exclude(demographics_encrypted="").iterator():
            try:
                demographics = network_patient_demographics(link=link)
            except DecryptionError:
                unreadable += 1
                continue
            names = [str(demographics.get(key) or "") for key in ("firstName", "lastName")]
            person_name_index(user=link.user, names=names)
            indexed += 1
        self.stdout.write(f"Indexed the names of {indexed} people; {unreadable} could not be decrypted.")
