import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_asgi_application()

from portal.startup import startup_objects_freeze  # noqa: E402 - needs the settings configured above

startup_objects_freeze()
