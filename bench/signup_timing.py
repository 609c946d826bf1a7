"""Sign-up time for an address that has an account and for one that does not (issue 12 item 8).

    DATABASE_URL=sqlite:////tmp/hp_signup.sqlite3 .venv/bin/python bench/signup_timing.py [n]

Posts the sign-up form `n` times (default 20) for new addresses and `n` times for an existing one
through Django's test client, with the production password hasher, and prints the median and
spread of each. Ends with one JSON line. Asserts nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")


def main(n: int) -> None:
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from accounts.models import User

    call_command("migrate", interactive=False, verbosity=0)
    setup_test_environment()
    stamp = time.time_ns()
    existing = f"existing-{stamp}@example.com"
    password = secrets.token_urlsafe(18)
    User.objects.create_user(email=existing, password=password)
    client = Client()

    def once(email: str) -> float:
        cache.clear()  # the sign-up rate limit is not what is measured
        started = time.perf_counter()
        response = client.post(
            reverse("account_signup"), {"email": email, "password1": password, "password2": password}
        )
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 302, response.status_code
        client.logout()
        return elapsed

    once(f"warm-{stamp}@example.com")
    new_ms, existing_ms = [], []
    for i in range(n):  # interleaved, so a shared machine's load falls on both alike
        new_ms.append(once(f"new-{stamp}-{i}@example.com"))
        existing_ms.append(once(existing))
    figures = {
        "n": n,
        "new_median_ms": round(statistics.median(new_ms), 1),
        "new_min_max_ms": [round(min(new_ms), 1), round(max(new_ms), 1)],
        "existing_median_ms": round(statistics.median(existing_ms), 1),
        "existing_min_max_ms": [round(min(existing_ms), 1), round(max(existing_ms), 1)],
    }
    print(f"new address:      median {figures['new_median_ms']} ms, range {figures['new_min_max_ms']}")
    print(f"existing address: median {figures['existing_median_ms']} ms, range {figures['existing_min_max_ms']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
