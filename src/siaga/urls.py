from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from siaga.api import api, api_not_found
from siaga.ops import views as ops
from siaga.sites import chooser
from siaga.web import signin, two_factor, views

# Under /api/ a fault outside an operation still answers JSON; pages keep Django's 500.
handler500 = "siaga.api.server_error"


sites_patterns = (
    [
        path("", views.site_list, name="list"),
        path("<uuid:site_id>/", views.site_detail, name="detail"),
        path("pilih/", chooser.chooser_view, name="chooser"),
    ],
    "sites",
)
regions_patterns = (
    [
        path("", views.region_browse, name="browse"),
        path("<str:code>/", views.region_browse, name="detail"),
    ],
    "regions",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("operasi/", include("siaga.ops.views")),
    path("login/", signin.LoginView.as_view(), name="login"),
    path("login/verify/", two_factor.verify, name="login-verify"),
    path("account/2fa/", two_factor.overview, name="two-factor"),
    path("account/2fa/totp/", two_factor.totp_setup, name="two-factor-totp"),
    path(
        "account/2fa/codes/",
        two_factor.recovery_codes_regenerate,
        name="two-factor-recovery-codes",
    ),
    path(
        "account/2fa/totp/remove/",
        two_factor.remove,
        {"method": "totp"},
        name="two-factor-totp-remove",
    ),
    path(
        "account/2fa/passkeys/remove/",
        two_factor.remove,
        {"method": "passkey"},
        name="two-factor-passkey-remove",
    ),
    path("webauthn/", include(two_factor.webauthn_patterns)),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", signin.PasswordChangeView.as_view(), name="password-change"),
    path("password-reset/", signin.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/", signin.PasswordResetSentView.as_view(), name="password-reset-sent"
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        signin.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        signin.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", views.account, name="account"),
    path("account/tokens/", views.token_create, name="token-create"),
    path("account/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("sites/", include(sites_patterns)),
    path("regions/", include(regions_patterns)),
    path("ledger/", include("siaga.ledger.urls")),
    path("insiden/", include("siaga.incidents.urls")),
    path("alarm/", include("siaga.alarms.urls")),
    path("bahaya/", include("siaga.hazards.urls")),
    path("gerbang/", include("siaga.access.urls")),
    path("privasi/", include("siaga.privacy.views")),
    path("logistik/", include("siaga.logistics.urls")),
    path("notifikasi/", include("siaga.notify.urls")),
    path("keselamatan/", include("siaga.safety.views")),
    path("cuaca/", include("siaga.weather.views")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/v1/(?P<rest>.*)$", api_not_found, name="api-not-found"),
]
