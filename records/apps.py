from django.apps import AppConfig
from django.core import checks


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Health records"

    def ready(self) -> None:
        from records.checks import share_manifest_url_fits

        checks.register(share_manifest_url_fits, checks.Tags.urls)
