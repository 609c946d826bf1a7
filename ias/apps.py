from django.apps import AppConfig


class IasConfig(AppConfig):
    name = "ias"
    verbose_name = "Network (IAS)"
    default_auto_field = "django.db.models.BigAutoField"
