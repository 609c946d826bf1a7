from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = gettext_lazy("Health records")

    def ready(self) -> None:
        from records.checks import share_manifest_url_fits

        checks.register(share_manifest_url_fits, checks.Tags.urls)
