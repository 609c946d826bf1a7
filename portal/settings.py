"""Homeport's one settings module, driven entirely by environment variables.

Development defaults make `bin/run` work with nothing set. With DJANGO_DEBUG=false every secret
must be given explicitly: a missing one stops start-up instead of falling back to a dev value.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string setting; an empty value counts as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
DATA_DIR = Path(env_str("HOMEPORT_DATA_DIR", str(BASE_DIR / ".data")))

_missing_secrets: list[str] = []


def secret(name: str, dev_default: str) -> str:
    """A secret: the dev default in DEBUG, mandatory otherwise."""
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    _missing_secrets.append(name)
    return ""


SECRET_KEY = secret("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-do-not-use-in-production-0123456789")
# A urlsafe base64 32-byte Fernet key; several may be given, comma-separated, newest first (rotation).
FIELD_ENCRYPTION_KEY = secret("FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQta2V5LW5vdC1mb3ItcHJvZCE=")
METRIPORT_API_KEY = secret("METRIPORT_API_KEY", "homeport-dev-api-key")
METRIPORT_WEBHOOK_KEY = secret("METRIPORT_WEBHOOK_KEY", "homeport-dev-webhook-key")

if _missing_secrets:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is false, so these secrets must be set in the environment: "
        + ", ".join(_missing_secrets)
        + ". See .env.example."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_DEBUG is false.")

# A host name, not an IP address: browsers refuse passkeys (WebAuthn) on an IP address, and the
# relying party id is the host the person's browser uses.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",  # allauth's passkey list page loads it (was a 500 without it)
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts",
    "records",
    "ias",
    "portal",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.security_headers",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Above: headers every response carries. The networks' webhooks stop here (see the middleware).
    "portal.middleware.webhooks_first",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.person_language",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.session_max_age",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.admin_requires_mfa",
    "portal.middleware.person_time_zone",
    "portal.middleware.FriendlyErrors",
]

# In DEBUG, errors outside a view still show a person the plain page (staff get the debug page).
DEFAULT_EXCEPTION_REPORTER = "portal.error_pages.PatientSafeExceptionReporter"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
                "portal.context_processors.journey",
            ],
        },
    },
]

# --- database ---
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'homeport.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets pages read while the worker writes; immediate transactions take the write lock up
    # front (no deadlock upgrading a read); a writer waits up to `timeout` seconds for the lock
    # (the busy timeout), and the ingest commits in short batches so no one waits long.
    # Connections are kept for DB_CONN_MAX_AGE as on PostgreSQL: opening one (Django's functions,
    # these pragmas) took 0.7 ms, which every request and every task paid, three times on the way
    # from a network's webhook to the records (its receipt, its task and the bundle's download from the
    # sandbox). A kept connection between requests holds no transaction, so it holds back no checkpoint.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 10,
    }
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("DJANGO_TEST_DB_NAME", str(DATA_DIR / "test-homeport.sqlite3")),
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # psycopg may keep prepared statements (Django turns them off, for connection poolers that
    # share a server session between clients; none is in this layout: behind one in transaction
    # mode, set DB_PREPARED_STATEMENTS=false). Django's own cursors bind on the client and never
    # prepare; only the webhook's INSERT binds on the server (ias.webhooks.statement_returning_id).
    if env_bool("DB_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- accounts and MFA ---
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "start"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Homeport] "
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
}
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
MFA_TOTP_ISSUER = "Homeport"
MFA_RECOVERY_CODE_COUNT = 10
# Recovery codes are shown once, on the first view after they are generated; after that only new
# codes (generation needs a fresh second factor) show them again.
MFA_RECOVERY_CODES_SHOW_ONCE = True
# allauth counts wrong second factors under "login_failed" per user (5 per 5 minutes above). On top,
# a persistent count per account (NIST SP 800-63B 5.2.2: at most 100 consecutive failures): 10 wrong
# second factors (TOTP or recovery codes) or 20 wrong passwords in a row lock sign-in for that
# account and email the person; a password reset by email (or staff) unlocks it.
MFA_FAILURE_LIMIT = 10
PASSWORD_FAILURE_LIMIT = 20
MFA_FORMS = {
    "authenticate": "accounts.forms.AuthenticateForm",
    "reauthenticate": "accounts.forms.ReauthenticateForm",
    "authenticate_webauthn": "accounts.forms.AuthenticateWebAuthnForm",
    "reauthenticate_webauthn": "accounts.forms.ReauthenticateWebAuthnForm",
}
ACCOUNT_FORMS = {
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",
    "signup": "accounts.forms.SignupForm",
}

# NIST SP 800-63B AAL2: reauthenticate after 12 hours, and after 30 minutes without activity.
HEALTH_SESSION_MAX_AGE_SECONDS = env_int("HEALTH_SESSION_MAX_AGE_SECONDS", 12 * 60 * 60)
HEALTH_SESSION_IDLE_SECONDS = env_int("HEALTH_SESSION_IDLE_SECONDS", 30 * 60)
SESSION_COOKIE_AGE = HEALTH_SESSION_MAX_AGE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

PRIVACY_NOTICE_VERSION = env_str("PRIVACY_NOTICE_VERSION", "2026-11-01")
OPERATOR_CONTACT_EMAIL = env_str("OPERATOR_CONTACT_EMAIL", "privacy@homeport.example")
# Where a person who is stuck (e.g. an identity check that keeps failing) is told to write.
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "support@homeport.example")
# The name every page and email signs with; email links are built from PORTAL_BASE_URL, never the Host header.
SITE_NAME = env_str("SITE_NAME", "Homeport")

# --- security headers ---
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# How many proxies of ours append to X-Forwarded-For; the client is the address the outermost one
# appended (right-most untrusted). allauth's rate limits and our audit log both read it this way.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1) if BEHIND_TLS_PROXY else 0
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# Extra origins a form may submit or redirect to (the network's hosted identity and AAL2 pages).
CSP_FORM_ACTION_EXTRA = env_list("CSP_FORM_ACTION_EXTRA", [])

# --- i18n and static ---
LANGUAGE_CODE = "en"
# The languages a person can read Homeport in: picked from the browser, changeable in the header,
# stored on the account (User.language).
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# US Spanish writes numbers as US English does (decimal point); see portal/formats/es.
FORMAT_MODULE_PATH = ["portal.formats"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = not DEBUG
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = DATA_DIR / "media"
PRIVATE_STORAGE_ROOT = Path(env_str("PRIVATE_STORAGE_ROOT", str(DATA_DIR / "private")))

# --- email ---
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Homeport <no-reply@homeport.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- caches ---
# "progress" carries counts a worker reports while it saves a record (no health data), so it must be
# shared by the web processes and the workers: a folder under HOMEPORT_DATA_DIR by default, or
# redis://host:port/db. The default cache (allauth's rate limits) stays per process.
# The ICD-10-CM index (records.icd10cm), built once per package version from simple-icd-10-cm.
CODE_SETS_DIR = Path(env_str("CODE_SETS_DIR", str(DATA_DIR / "code-sets")))

PROGRESS_CACHE_URL = env_str("PROGRESS_CACHE_URL", f"file://{DATA_DIR / 'cache' / 'progress'}")
if PROGRESS_CACHE_URL.startswith(("redis://", "rediss://")):
    _progress_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": PROGRESS_CACHE_URL}
elif PROGRESS_CACHE_URL.startswith("locmem://"):
    _progress_cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "progress"}
else:
    _progress_cache = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": PROGRESS_CACHE_URL.removeprefix("file://"),
    }
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "progress": {**_progress_cache, "TIMEOUT": 3600},
}

# --- celery ---
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport, writing each message whole before a worker can see it.
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
    _broker_dir = DATA_DIR / "broker"
    # The filesystem transport does not make its folders; a fresh clone has none.
    for _folder in ("queue", "processed", "control", "wake"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # A worker waits on a socket here that every publisher, and its own acknowledgement, wakes
        # (portal.broker); it looks in the queue folder at least every `idle_interval` when idle, in
        # case a wake-up is missed.
        "wake_folder": str(_broker_dir / "wake"),
        "idle_interval": 1.0,
        # The same fallback while a task is in hand, and how often a worker that could not bind its
        # socket looks.
        "polling_interval": float(env_str("CELERY_FILESYSTEM_POLLING_SECONDS", "0.02")),
    }
else:
    if CELERY_BROKER_URL.startswith("redis://"):
        # kombu's Redis transport, keeping its command client instead of building one per publish.
        CELERY_BROKER_TRANSPORT = "portal.broker:RedisTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}
# Publishing must not hang a web request when the broker is down: the sweeper catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
# Celery's Django fixup closes every database connection before and after every task unless this is
# set, so each task opened a new one (on PostgreSQL a new server process, in the middle of a
# person's journey). Set, the fixup closes them only every this many tasks; between tasks
# `portal.celery.PortalTask` applies Django's own rules instead (CONN_MAX_AGE, CONN_HEALTH_CHECKS),
# as a web request does.
CELERY_DB_REUSE_MAX = 1000
# Celery reads its settings through Django's on every publish, and a key missing here is found
# only after two exceptions per spelling; the ones every publish reads (tests/portal/test_celery_config.py)
# are spelled out, at Celery's own defaults: about a sixth of a publish's CPU.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_TASK_REPR_MAXLEVELS = 3
CELERY_BROKER_POOL_ACQUIRE_TIMEOUT = None

# --- networks ---
# The networks the journey talks to, by key (ias.network.IMPLEMENTATIONS); the first one proves identity.
HOMEPORT_NETWORKS = env_list("HOMEPORT_NETWORKS", ["metriport"])

# --- network (Metriport) ---
METRIPORT_BASE_URL = env_str("METRIPORT_BASE_URL", f"{PORTAL_BASE_URL}/sandbox").rstrip("/")
METRIPORT_FACILITY_ID = env_str("METRIPORT_FACILITY_ID", "fac_homeport_dev")
METRIPORT_CONNECT_TIMEOUT = float(env_str("METRIPORT_CONNECT_TIMEOUT", "5"))
METRIPORT_READ_TIMEOUT = float(env_str("METRIPORT_READ_TIMEOUT", "20"))

# --- sandbox ---
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
SANDBOX_API_KEY = env_str("SANDBOX_API_KEY", "homeport-dev-api-key")
SANDBOX_WEBHOOK_URL = env_str("SANDBOX_WEBHOOK_URL", f"{PORTAL_BASE_URL}/webhooks/metriport/")
SANDBOX_WEBHOOK_KEY = env_str("SANDBOX_WEBHOOK_KEY", "homeport-dev-webhook-key")
# Sandbox knobs (owner: sandbox); see README "## Sandbox".
SANDBOX_AAL2_TTL_SECONDS = env_int("SANDBOX_AAL2_TTL_SECONDS", 900)
SANDBOX_AAL2_CHALLENGE_TTL_SECONDS = env_int("SANDBOX_AAL2_CHALLENGE_TTL_SECONDS", 600)
SANDBOX_IDENTITY_SESSION_TTL_SECONDS = env_int("SANDBOX_IDENTITY_SESSION_TTL_SECONDS", 1800)
SANDBOX_LINK_TTL_SECONDS = env_int("SANDBOX_LINK_TTL_SECONDS", 180)
SANDBOX_DOCUMENT_LINK_TTL_SECONDS = env_int("SANDBOX_DOCUMENT_LINK_TTL_SECONDS", 600)
# Where the sandbox keeps each linked bundle it built (gzipped), as the network keeps them in S3.
SANDBOX_FILES_ROOT = Path(env_str("SANDBOX_FILES_ROOT", str(DATA_DIR / "sandbox-files")))
SANDBOX_SOURCE_DELAY_SECONDS = env_str("SANDBOX_SOURCE_DELAY_SECONDS", "hie=2,pharmacy=3,lab=4")
SANDBOX_CONSOLIDATED_DELAY_SECONDS = float(env_str("SANDBOX_CONSOLIDATED_DELAY_SECONDS", "1"))
SANDBOX_RATE_LIMITS = env_str("SANDBOX_RATE_LIMITS", "patient=15,query=20,consolidated=120")
SANDBOX_ACCOUNT_SOURCES = env_list("SANDBOX_ACCOUNT_SOURCES", ["hie", "pharmacy", "lab"])
SANDBOX_RECORD_SIZE = env_int("SANDBOX_RECORD_SIZE", 600)
SANDBOX_LARGE_RECORD_SIZE = env_int("SANDBOX_LARGE_RECORD_SIZE", 50000)
# What records look like: clean (US Core), converted (Metriport's C-CDA converter) or mixed.
SANDBOX_RECORD_SHAPE = env_str("SANDBOX_RECORD_SHAPE", "mixed")
# Global faults, e.g. "duplicate,source_fail:pharmacy,delay@10" (kind[:target][@seconds]).
SANDBOX_FAULTS = env_list("SANDBOX_FAULTS", [])
# The Celery queue for the sandbox's tasks; empty means the default queue.
SANDBOX_TASK_QUEUE = env_str("SANDBOX_TASK_QUEUE", "")
# How long the sandbox waits for the portal to answer a webhook, and a settings ping.
SANDBOX_WEBHOOK_TIMEOUT_SECONDS = float(env_str("SANDBOX_WEBHOOK_TIMEOUT_SECONDS", "5"))
SANDBOX_PING_TIMEOUT_SECONDS = float(env_str("SANDBOX_PING_TIMEOUT_SECONDS", "2"))
if SANDBOX_ENABLED and not DEBUG:
    raise ImproperlyConfigured(
        "SANDBOX_ENABLED is true while DJANGO_DEBUG is false: the sandbox (with its public development key "
        "and plain-HTTP bundle downloads) must never run in production. Set SANDBOX_ENABLED=false."
    )
if SANDBOX_ENABLED:
    CELERY_BEAT_SCHEDULE["sandbox-sweep"] = {"task": "sandbox.tasks.sandbox_sweep", "schedule": 60.0}

# --- the second network (Particle Health's Query API) ---
# PARTICLE_PURPOSE_OF_USE has no default, in development or production: Particle stays off until the
# operator names the purpose they are entitled to query under (TREATMENT, PAYMENT or OPERATIONS).
# `bin/run` sets TREATMENT for the local sandbox only. See README "Particle and its purpose of use".
PARTICLE_PURPOSE_OF_USE = env_str("PARTICLE_PURPOSE_OF_USE").upper()
PARTICLE_BASE_URL = env_str(
    "PARTICLE_BASE_URL", f"{PORTAL_BASE_URL}/sandbox/particle" if SANDBOX_ENABLED else "https://api.particlehealth.com"
).rstrip("/")
PARTICLE_CLIENT_ID = env_str("PARTICLE_CLIENT_ID", "homeport-dev-particle-client" if SANDBOX_ENABLED else "")
PARTICLE_CLIENT_SECRET = env_str("PARTICLE_CLIENT_SECRET", "homeport-dev-particle-secret" if SANDBOX_ENABLED else "")
# The `scope` header of `GET /auth` (projects/<project id>); empty sends none.
PARTICLE_SCOPE = env_str("PARTICLE_SCOPE", "projects/homeport-dev" if SANDBOX_ENABLED else "")
PARTICLE_WEBHOOK_SECRET = env_str("PARTICLE_WEBHOOK_SECRET", "homeport-dev-particle-webhook" if SANDBOX_ENABLED else "")
# How far a signature's timestamp may be from our clock, either way, before the event is refused.
PARTICLE_WEBHOOK_SKEW_SECONDS = env_int("PARTICLE_WEBHOOK_SKEW_SECONDS", 300)
PARTICLE_CONNECT_TIMEOUT = float(env_str("PARTICLE_CONNECT_TIMEOUT", "5"))
PARTICLE_READ_TIMEOUT = float(env_str("PARTICLE_READ_TIMEOUT", "30"))
# The sandbox's Particle: the credentials it accepts, where it signs its CloudEvents to, how long
# its tokens live and how long a query takes.
SANDBOX_PARTICLE_CLIENT_ID = env_str("SANDBOX_PARTICLE_CLIENT_ID", "homeport-dev-particle-client")
SANDBOX_PARTICLE_CLIENT_SECRET = env_str("SANDBOX_PARTICLE_CLIENT_SECRET", "homeport-dev-particle-secret")
SANDBOX_PARTICLE_WEBHOOK_URL = env_str("SANDBOX_PARTICLE_WEBHOOK_URL", f"{PORTAL_BASE_URL}/webhooks/particle/")
SANDBOX_PARTICLE_WEBHOOK_SECRET = env_str("SANDBOX_PARTICLE_WEBHOOK_SECRET", "homeport-dev-particle-webhook")
SANDBOX_PARTICLE_TOKEN_TTL_SECONDS = env_int("SANDBOX_PARTICLE_TOKEN_TTL_SECONDS", 3600)
SANDBOX_PARTICLE_QUERY_DELAY_SECONDS = float(env_str("SANDBOX_PARTICLE_QUERY_DELAY_SECONDS", "3"))
# How long the status endpoint answers 404 after a submit (Particle's propagation delay).
SANDBOX_PARTICLE_STATUS_404_SECONDS = float(env_str("SANDBOX_PARTICLE_STATUS_404_SECONDS", "1"))
# The query notification's version: v2 (com.particlehealth.api.v2.query) or v1.
SANDBOX_PARTICLE_EVENT_VERSION = env_str("SANDBOX_PARTICLE_EVENT_VERSION", "v2")

# --- records ---
_sandbox_host = urlsplit(METRIPORT_BASE_URL).hostname or "127.0.0.1"
# The network's API hosts and the Amazon S3 endpoints its presigned links use (Metriport signs
# consolidated-data and document links for its S3 buckets with SigV4: virtual-hosted style
# <bucket>.s3.<region>.amazonaws.com, <bucket>.s3.amazonaws.com in us-east-1, and path style
# s3.<region>.amazonaws.com/<bucket> for bucket names with dots). A leading dot allows subdomains.
METRIPORT_S3_REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
METRIPORT_LINK_HOSTS = [
    "api.metriport.com",
    "api.sandbox.metriport.com",
    "s3.amazonaws.com",
    ".s3.amazonaws.com",
    *[
        host
        for region in METRIPORT_S3_REGIONS
        for host in (f"s3.{region}.amazonaws.com", f".s3.{region}.amazonaws.com")
    ],
]
RECORDS_DOWNLOAD_ALLOWED_HOSTS = env_list("RECORDS_DOWNLOAD_ALLOWED_HOSTS", METRIPORT_LINK_HOSTS)
RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS = env_list(
    "RECORDS_DOWNLOAD_ALLOW_HTTP_HOSTS",
    sorted({"127.0.0.1", "localhost", _sandbox_host}) if (DEBUG or SANDBOX_ENABLED) else [],
)
# A bundle download's limits: bytes on the wire, bytes once decompressed, and seconds in all.
RECORDS_DOWNLOAD_MAX_BYTES = env_int("RECORDS_DOWNLOAD_MAX_BYTES", 512 * 1024 * 1024)
RECORDS_DOWNLOAD_MAX_DECOMPRESSED_BYTES = env_int("RECORDS_DOWNLOAD_MAX_DECOMPRESSED_BYTES", 2 * 1024 * 1024 * 1024)
RECORDS_DOWNLOAD_TIMEOUT_SECONDS = env_int("RECORDS_DOWNLOAD_TIMEOUT_SECONDS", 300)
# A linked bundle up to this many bytes (as sent) is fetched while its event is still being recorded
# (records.download.BundlePrefetch); a larger one is downloaded by the save itself. 0 turns it off.
RECORDS_PREFETCH_MAX_BYTES = env_int("RECORDS_PREFETCH_MAX_BYTES", 8 * 1024 * 1024)

# Where the records pages get a short-lived link for a document held at the network (a dotted path;
# records sits below ias in the layers, so it is wired here).
RECORDS_DOCUMENT_URL_PROVIDER = "ias.patients.document_link_for"
# Where the PDF summary gets the name and date of birth the person gave in the journey.
RECORDS_PERSON_DETAILS_PROVIDER = "ias.selectors.person_details_for"
# Making a SMART Health Link needs a second factor used within this many seconds.
RECORDS_SHARE_FRESH_MFA_SECONDS = env_int("RECORDS_SHARE_FRESH_MFA_SECONDS", 600)
CELERY_BEAT_SCHEDULE["records-shares-purge"] = {"task": "records.shares_purge_expired", "schedule": 900.0}

# --- records: plain-language explanations (MedlinePlus Connect, National Library of Medicine) ---
MEDLINEPLUS_CONNECT_URL = env_str(
    "MEDLINEPLUS_CONNECT_URL",
    f"{PORTAL_BASE_URL}/sandbox/medlineplus/service" if SANDBOX_ENABLED else "https://connect.medlineplus.gov/service",
)
MEDLINEPLUS_TIMEOUT_SECONDS = float(env_str("MEDLINEPLUS_TIMEOUT_SECONDS", "3"))
# MedlinePlus asks for at most 100 requests a minute from one client; a lower number is allowed.
MEDLINEPLUS_REQUESTS_PER_MINUTE = min(100, env_int("MEDLINEPLUS_REQUESTS_PER_MINUTE", 100))
MEDLINEPLUS_CACHE_DAYS = env_int("MEDLINEPLUS_CACHE_DAYS", 30)

# --- ias ---
IAS_WEBHOOK_MAX_BYTES = env_int("IAS_WEBHOOK_MAX_BYTES", 1024 * 1024)
IAS_EVENT_LEASE_SECONDS = env_int("IAS_EVENT_LEASE_SECONDS", 300)
IAS_EVENT_MAX_ATTEMPTS = env_int("IAS_EVENT_MAX_ATTEMPTS", 8)
IAS_SWEEP_EVENT_AGE_SECONDS = env_int("IAS_SWEEP_EVENT_AGE_SECONDS", 30)
IAS_QUERY_QUIET_SECONDS = env_int("IAS_QUERY_QUIET_SECONDS", 300)
IAS_QUERY_TIMEOUT_SECONDS = env_int("IAS_QUERY_TIMEOUT_SECONDS", 2 * 3600)
IAS_IDENTITY_POLL_SECONDS = env_int("IAS_IDENTITY_POLL_SECONDS", 60)
IAS_IDENTITY_NUDGE_SECONDS = env_int("IAS_IDENTITY_NUDGE_SECONDS", 20)
CELERY_BEAT_SCHEDULE["ias-sweep"] = {"task": "ias.sweep", "schedule": float(env_int("IAS_SWEEP_EVERY_SECONDS", 60))}

# --- accounts: expired sessions are purged (they may hold an email address and search words) ---
CELERY_BEAT_SCHEDULE["accounts-sessions-clear-expired"] = {
    "task": "accounts.sessions_clear_expired",
    "schedule": float(env_int("ACCOUNTS_SESSIONS_CLEAR_EVERY_SECONDS", 3600)),
}

# --- portal: rights (export, deletion) ---
CELERY_BEAT_SCHEDULE["portal-account-deletion-notify-sweep"] = {
    "task": "portal.account_deletion_notify_sweep",
    "schedule": 600.0,
}

# --- logging: never health data; our loggers log ids and reasons only ---
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.db.backends": {"level": "WARNING"},
        # records: httpx logs every request URL at INFO, and bundle links carry patient identifiers.
        "httpx": {"level": "WARNING"},
    },
}
