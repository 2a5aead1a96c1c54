"""The one settings module. Everything a deployment changes comes from SIAGA_* variables."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from siaga.core.logs import logging_config
from siaga.env import (
    env_bool,
    env_database,
    env_file,
    env_float,
    env_int,
    env_int_list,
    env_list,
    env_path,
    env_str,
    env_time_zone,
    env_url,
    secret_key,
)

PACKAGE_DIR = Path(__file__).resolve().parent

SIAGA_HOME = env_path("SIAGA_HOME", Path.cwd() / "var")
DEBUG = env_bool("SIAGA_DEBUG", False)
# Behind TLS (a reverse proxy or a load balancer): secure cookies, HSTS and redirects.
SIAGA_HTTPS = env_bool("SIAGA_HTTPS", False)
SECRET_KEY = secret_key("SIAGA_SECRET_KEY", SIAGA_HOME)
# Personal data at rest (siaga.core.crypto): one key or several, comma-separated, newest first.
DATA_KEYS = [
    key.strip()
    for key in secret_key("SIAGA_DATA_KEY", SIAGA_HOME, file_name="data_key").split(",")
    if key.strip()
]
ALLOWED_HOSTS = env_list("SIAGA_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
TIME_ZONE = env_time_zone("SIAGA_TIME_ZONE", "Asia/Jakarta")
CSRF_TRUSTED_ORIGINS = env_list("SIAGA_CSRF_TRUSTED_ORIGINS", [])
DEMO_PASSWORD = env_str("SIAGA_DEMO_PASSWORD", "siaga-demo")
API_TOKEN_DAYS = env_int("SIAGA_API_TOKEN_DAYS", 90, minimum=1)
# The ledger's name in its signed checkpoints, and how often they are made.
LEDGER_ORIGIN = env_str("SIAGA_LEDGER_ORIGIN", "siaga.local/ledger")
LEDGER_CHECKPOINT_EVERY = env_int("SIAGA_LEDGER_CHECKPOINT_EVERY", 1000, minimum=1)
LEDGER_CHECKPOINT_SECONDS = env_int("SIAGA_LEDGER_CHECKPOINT_SECONDS", 300, minimum=10)
# The site (its code) whose responders hear that the ledger was put back to an older copy;
# empty: the first warehouse by region code.
LEDGER_ALARM_SITE = env_str("SIAGA_LEDGER_ALARM_SITE", "")
# The days an election's logistics can happen on, around its voting day (docs/logistics.md).
LOGISTICS_WINDOW_BEFORE_DAYS = env_int("SIAGA_LOGISTICS_WINDOW_BEFORE_DAYS", 1095, minimum=1)
LOGISTICS_WINDOW_AFTER_DAYS = env_int("SIAGA_LOGISTICS_WINDOW_AFTER_DAYS", 730, minimum=1)
# Incidents: the largest photo accepted, and how often the worker sweeps for escalations.
INCIDENT_PHOTO_MAX_BYTES = env_int("SIAGA_INCIDENT_PHOTO_MAX_BYTES", 8 * 1024 * 1024, minimum=1024)
VISITOR_PHOTO_MAX_BYTES = env_int("SIAGA_VISITOR_PHOTO_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
ESCALATION_SWEEP_SECONDS = env_int("SIAGA_ESCALATION_SWEEP_SECONDS", 5, minimum=1)

# Running SIAGA (docs/operations.md): the worker's heartbeat and backoff, what /readyz and the
# operations watch call healthy, and the token that lets a Prometheus server read /metrics.
WORKER_NAME = env_str("SIAGA_WORKER_NAME", "")
WORKER_HEARTBEAT_SECONDS = env_int("SIAGA_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_BACKOFF_MAX_SECONDS = env_float("SIAGA_WORKER_BACKOFF_MAX_SECONDS", 30.0, minimum=0.1)
WORKER_FORGET_SECONDS = env_int("SIAGA_WORKER_FORGET_SECONDS", 3600, minimum=60)
READY_MIN_FREE_MB = env_int("SIAGA_READY_MIN_FREE_MB", 200, minimum=0)
READY_OUTBOX_MAX_AGE_SECONDS = env_int("SIAGA_READY_OUTBOX_MAX_AGE_SECONDS", 600, minimum=10)
OPS_WATCH_SECONDS = env_int("SIAGA_OPS_WATCH_SECONDS", 60, minimum=1)
METRICS_TOKEN = env_str("SIAGA_METRICS_TOKEN", "")
# Where siaga serve's processes keep their request metrics (prometheus_client's memory-mapped
# files): in memory (/dev/shm) by default, never on the data disk, where a full disk would
# end a web process that writes a sample into a page the disk cannot hold (SIGBUS).
_SHM = Path("/dev/shm")  # noqa: S108 - a per-installation folder, made owner-only
METRICS_DIR = env_path(
    "SIAGA_METRICS_DIR",
    _SHM / f"siaga-metrics-{hashlib.sha256(str(SIAGA_HOME).encode()).hexdigest()[:12]}"
    if _SHM.is_dir()
    else SIAGA_HOME / "metrics",
)

# Weather warnings (siaga.weather): BMKG's RSS feeds or CAP documents to poll, how often, when
# a feed counts as stale, and the limits on what is fetched.
WEATHER_FEEDS = env_list("SIAGA_WEATHER_FEEDS", [])
WEATHER_FETCH_SECONDS = env_int("SIAGA_WEATHER_FETCH_SECONDS", 600, minimum=30)
WEATHER_STALE_HOURS = env_int("SIAGA_WEATHER_STALE_HOURS", 24, minimum=1)
WEATHER_FETCH_TIMEOUT_SECONDS = env_float("SIAGA_WEATHER_FETCH_TIMEOUT_SECONDS", 20.0, minimum=1.0)
WEATHER_MAX_BYTES = env_int("SIAGA_WEATHER_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
WEATHER_DEFAULT_HOURS = env_int("SIAGA_WEATHER_DEFAULT_HOURS", 6, minimum=1)

# Hazard watch (siaga.hazards, docs/hazards.md): how long raw readings are kept (hourly
# aggregates stay), the jobs' periods, a contact's debounce, when a battery sensor is declared
# unavailable, how far ahead of the server's clock a reading's time may be.
HAZARDS_RAW_DAYS = env_int("SIAGA_HAZARDS_RAW_DAYS", 30, minimum=1)
HAZARDS_ROLLUP_SECONDS = env_int("SIAGA_HAZARDS_ROLLUP_SECONDS", 300, minimum=10)
HAZARDS_WATCH_SECONDS = env_float("SIAGA_HAZARDS_WATCH_SECONDS", 5.0, minimum=0.1)
HAZARDS_DEBOUNCE_SECONDS = env_float("SIAGA_HAZARDS_DEBOUNCE_SECONDS", 2.0)
HAZARDS_BATTERY_HOURS = env_float("SIAGA_HAZARDS_BATTERY_HOURS", 25.0, minimum=0.01)
HAZARDS_MAX_FUTURE_SECONDS = env_int("SIAGA_HAZARDS_MAX_FUTURE_SECONDS", 300)
HAZARDS_HTTP_BATCH_MAX = env_int("SIAGA_HAZARDS_HTTP_BATCH_MAX", 1000, minimum=1)
# The MQTT subscriber (siaga mqtt, or the worker's hazards.mqtt loop): the broker
# (mqtt://user:password@host:1883 or mqtts://…; empty: no subscriber), its fixed client id (the
# broker keeps this client's session and queued messages across restarts), the topics' first
# level, how long a batch collects messages and how many it holds at most.
MQTT_URL = env_str("SIAGA_MQTT_URL", "")
MQTT_CLIENT_ID = env_str("SIAGA_MQTT_CLIENT_ID", "siaga-ingest")
MQTT_TOPIC_PREFIX = env_str("SIAGA_MQTT_TOPIC_PREFIX", "siaga")
MQTT_BATCH_MS = env_float("SIAGA_MQTT_BATCH_MS", 25.0, minimum=0.1)
MQTT_BATCH_MAX = env_int("SIAGA_MQTT_BATCH_MAX", 5000, minimum=1)
MQTT_RECEIVE_MAXIMUM = env_int("SIAGA_MQTT_RECEIVE_MAXIMUM", 10000, minimum=1)
MQTT_SESSION_EXPIRY_SECONDS = env_int("SIAGA_MQTT_SESSION_EXPIRY_SECONDS", 7 * 86400, minimum=60)
MQTT_RECONNECT_MAX_SECONDS = env_float("SIAGA_MQTT_RECONNECT_MAX_SECONDS", 30.0, minimum=1.0)
MQTT_CA_FILE = env_str("SIAGA_MQTT_CA_FILE", "")

# Notifications (notify): where links in messages point, the outbox's delivery loop, channels.
PUBLIC_URL = env_url("SIAGA_PUBLIC_URL", "http://127.0.0.1:8000")
NOTIFY_GROUP_WINDOW_SECONDS = env_int("SIAGA_NOTIFY_GROUP_WINDOW_SECONDS", 300, minimum=0)
NOTIFY_MAX_ATTEMPTS = env_int("SIAGA_NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
NOTIFY_RETRY_BASE_SECONDS = env_float("SIAGA_NOTIFY_RETRY_BASE_SECONDS", 15.0)
NOTIFY_RETRY_MAX_SECONDS = env_float("SIAGA_NOTIFY_RETRY_MAX_SECONDS", 1800.0)
NOTIFY_LEASE_SECONDS = env_float("SIAGA_NOTIFY_LEASE_SECONDS", 30.0, minimum=1.0)
NOTIFY_POLL_SECONDS = env_float("SIAGA_NOTIFY_POLL_SECONDS", 0.05, minimum=0.01)
NOTIFY_CONCURRENCY = env_int("SIAGA_NOTIFY_CONCURRENCY", 8, minimum=1)
# Per receiving system (a webhook's host:port, a Telegram chat, the SMTP server), all workers
# together: sends under way at once, and the circuit breaker (docs/notify.md).
NOTIFY_ENDPOINT_CONCURRENCY = env_int("SIAGA_NOTIFY_ENDPOINT_CONCURRENCY", 2, minimum=1)
NOTIFY_BREAKER_FAILURES = env_int("SIAGA_NOTIFY_BREAKER_FAILURES", 5, minimum=1)
NOTIFY_BREAKER_COOLDOWN_SECONDS = env_float(
    "SIAGA_NOTIFY_BREAKER_COOLDOWN_SECONDS", 60.0, minimum=1.0
)
NOTIFY_WEBHOOK_TIMEOUT_SECONDS = env_float("SIAGA_NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# Webhooks go to public addresses only, unless the receiver sits on the warehouse's own network.
NOTIFY_WEBHOOK_ALLOW_PRIVATE = env_bool("SIAGA_NOTIFY_WEBHOOK_ALLOW_PRIVATE", False)
TELEGRAM_API_URL = env_url("SIAGA_TELEGRAM_API_URL", "https://api.telegram.org")
# Without a token, Telegram messages are dead-lettered with the reason (retry once it is set).
TELEGRAM_BOT_TOKEN = env_str("SIAGA_TELEGRAM_BOT_TOKEN", "")
# E-mail: SMTP when a host is set. Without one there is no mailer: e-mail notifications become
# dead letters that say so (as Telegram ones do without a bot token).
DEFAULT_FROM_EMAIL = env_str("SIAGA_EMAIL_FROM", "SIAGA <siaga@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_host = env_str("SIAGA_EMAIL_HOST", "")
MAILERS = (
    {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("SIAGA_EMAIL_PORT", 25, minimum=1),
                "username": env_str("SIAGA_EMAIL_USER", ""),
                "password": env_str("SIAGA_EMAIL_PASSWORD", ""),
                "use_tls": env_bool("SIAGA_EMAIL_STARTTLS", False),
                "timeout": 10,
            },
        }
    }
    if _email_host
    else {}
)
# "No default mailer" is the intended state of a deployment without SMTP, not a mistake.
SILENCED_SYSTEM_CHECKS = ["mail.W001"]

DATABASES = {"default": env_database("SIAGA_DATABASE_URL", SIAGA_HOME)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "siaga.core",
    "siaga.regions",
    "siaga.accounts",
    "siaga.sites",
    "siaga.ledger",
    "siaga.incidents",
    "siaga.alarms",
    "siaga.access",
    "siaga.logistics",
    "siaga.notify",
    "siaga.ops",
    "siaga.safety",
    "siaga.weather",
    "siaga.hazards",
    "siaga.web",
    "siaga.demo",
    "siaga.accounts.apps.SiagaAdminConfig",  # django.contrib.admin behind the second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "bootstrap",
    "ninja",
    "axes",
    # The second factor (siaga.accounts.two_factor).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "django_tasks_db",
]

# Safety equipment (siaga.safety, docs/safety.md): the days before an expiry or service date
# that its reminders go out, the page's "due soon" window, and how often the worker sweeps.
SAFETY_REMIND_DAYS = env_int_list("SIAGA_SAFETY_REMIND_DAYS", [30, 7], minimum=0)
SAFETY_DUE_SOON_DAYS = env_int("SIAGA_SAFETY_DUE_SOON_DAYS", 30, minimum=0)
SAFETY_SWEEP_SECONDS = env_int("SIAGA_SAFETY_SWEEP_SECONDS", 3600, minimum=10)

# Personal data (siaga.privacy): the look-up by NIK's throttle (per user, counted from the
# look-up log) and how long each kind of personal data is kept after a record was last used.
INSTALLED_APPS += ["siaga.privacy"]
LOOKUP_LIMIT = env_int("SIAGA_LOOKUP_LIMIT", 20, minimum=1)
LOOKUP_WINDOW_SECONDS = env_int("SIAGA_LOOKUP_WINDOW_SECONDS", 60, minimum=1)
RETENTION_VISITOR_PHOTO_DAYS = env_int("SIAGA_RETENTION_VISITOR_PHOTO_DAYS", 90, minimum=1)
RETENTION_PHONE_DAYS = env_int("SIAGA_RETENTION_PHONE_DAYS", 365, minimum=1)
RETENTION_NIK_DAYS = env_int("SIAGA_RETENTION_NIK_DAYS", 730, minimum=1)
RETENTION_PURGE_SECONDS = env_int("SIAGA_RETENTION_PURGE_SECONDS", 3600, minimum=60)

# Backups (siaga.core.backup, docs/operations.md): where the scheduled ones go, how often the
# worker makes one (0: never), how many are kept, and the file holding their passphrase.
SIAGA_BACKUP_DIR = env_path("SIAGA_BACKUP_DIR", SIAGA_HOME / "backups")
SIAGA_BACKUP_EVERY_HOURS = env_int("SIAGA_BACKUP_EVERY_HOURS", 24, minimum=0)
SIAGA_BACKUP_KEEP = env_int("SIAGA_BACKUP_KEEP", 14, minimum=1)
SIAGA_BACKUP_PASSPHRASE_FILE = env_file("SIAGA_BACKUP_PASSPHRASE_FILE")

MIDDLEWARE = [
    # First: the request's id for every log line, then its timing for Prometheus.
    "siaga.core.logs.RequestContextMiddleware",
    "siaga.ops.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "siaga.web.middleware.PrivacyHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "siaga.web.middleware.SiagaLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "siaga.accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "siaga.urls"
WSGI_APPLICATION = "siaga.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "siaga.web.context_processors.navigation",
                "siaga.notify.context_processors.unread",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out username before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("SIAGA_PASSWORD_MIN_LENGTH", 12, minimum=12)},
    },
    # Django's list of 20,000 common passwords.
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# A reset link works for an hour, and once.
PASSWORD_RESET_TIMEOUT = 60 * 60

# Sign-in throttling (django-axes, siaga.accounts.throttle): failures within the cool-off
# counted three ways, each with its limit: one username from one address (5), one username
# from anywhere (20) and one address for any username (password spraying, 20). The lock ends
# one cool-off after the failure that set it: attempts during it do not restart it.
AXES_FAILURE_LIMIT = env_int("SIAGA_LOGIN_FAILURE_LIMIT", 5, minimum=1)
SIAGA_LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("SIAGA_LOGIN_ACCOUNT_FAILURE_LIMIT", 20, minimum=1)
SIAGA_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("SIAGA_LOGIN_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIAGA_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
AXES_HANDLER = "siaga.accounts.throttle.SiagaAxesHandler"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Counts are cleared after the whole sign-in (the second factor included), by SIAGA itself.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False
# Every failure is kept (axes' AccessFailureLog and SIAGA's SignInEvent, with the username and
# the address) for the audit, not the console, for SIAGA_SIGNIN_LOG_RETENTION_DAYS.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
SIGNIN_LOG_RETENTION_DAYS = env_int("SIAGA_SIGNIN_LOG_RETENTION_DAYS", 400, minimum=1)
# JSON under /api/, a page elsewhere; both with status 429.
AXES_LOCKOUT_CALLABLE = "siaga.web.views.locked_out"

# The second factor: an authenticator app (TOTP) with recovery codes, or a passkey. Passkeys
# are a second factor after the password, never a sign-in of their own; their relying party
# is SIAGA_PUBLIC_URL's host (an https:// one).
OTP_TOTP_ISSUER = "SIAGA"
OTP_WEBAUTHN_RP_NAME = "SIAGA"
_public = urlsplit(PUBLIC_URL)
if _public.scheme == "https":
    OTP_WEBAUTHN_RP_ID = _public.hostname or ""
    OTP_WEBAUTHN_ALLOWED_ORIGINS = [f"https://{_public.netloc}"]
else:
    # Browsers offer passkeys over plain HTTP on localhost only (the demo: open it as
    # http://localhost:8000 to try them).
    OTP_WEBAUTHN_RP_ID = "localhost"
    OTP_WEBAUTHN_ALLOWED_ORIGINS = [f"http://localhost:{_public.port or 80}"]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
# The demo's accounts that need a second factor share this authenticator secret (base32).
DEMO_TOTP_SECRET = env_str("SIAGA_DEMO_TOTP_SECRET", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")

# Sessions, CSRF and security headers.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60  # one guard shift
SESSION_COOKIE_SECURE = SIAGA_HTTPS
CSRF_COOKIE_SECURE = SIAGA_HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = SIAGA_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if SIAGA_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SIAGA_HTTPS
# Joining the browsers' HSTS preload list binds every subdomain of the domain for months: the
# domain's owner (a KPU or Polri IT unit) decides, so it is a setting and off by default.
SECURE_HSTS_PRELOAD = SIAGA_HTTPS and env_bool("SIAGA_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SIAGA_HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # htmx and Swagger UI set inline styles.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Language: Bahasa Indonesia first, English second.
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = SIAGA_HOME / "static"
# collectstatic fills it for deployments; WhiteNoise warns when it is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the installed packages: no collectstatic step for the embedded default.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = SIAGA_HOME / "media"
# Uploaded files and their folders are for the server's user alone.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# plain for a terminal; json in production: one object per line, with request and user ids.
LOG_FORMAT = env_str("SIAGA_LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"SIAGA_LOG_FORMAT={LOG_FORMAT!r}: plain or json.")
LOGGING = logging_config(env_str("SIAGA_LOG_LEVEL", "INFO").upper(), LOG_FORMAT)

# siaga serve's HTTP server: gunicorn, or granian (bench/request_path.py compares them).
WEB_SERVER = env_str("SIAGA_WEB_SERVER", "gunicorn").lower()
if WEB_SERVER not in {"gunicorn", "granian"}:
    raise ImproperlyConfigured(f"SIAGA_WEB_SERVER={WEB_SERVER!r}: gunicorn or granian.")
