"""Hypothesis settings for the fuzz suite: modest example counts, no deadline (CI has 2 cores)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "homeport-fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=os.environ.get("FUZZ_RANDOM", "") == "",
)
