"""Admin for accounts, built so that it cannot be climbed.

Only a superuser grants staff or superuser status, groups or single permissions, or edits a
group; a staff user who is not a superuser never touches a superuser's account; a unit admin
gives and changes memberships only in units inside the region subtree they manage. Every
permission, group, membership and password change appends a ledger entry (through
``record_admin_change``, which keeps secrets out of the payload).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from siaga.accounts import services
from siaga.accounts.choices import Role
from siaga.accounts.models import (
    Agency,
    AgencyUnit,
    ApiToken,
    Membership,
    SignInEvent,
    User,
)
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import user_can
from siaga.ledger.admin import LedgeredAdminMixin, record_admin_change

# The fields of a user that grant rights: only a superuser sets them, on anyone.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


def _is_superuser(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


class ScopedAdminMixin:
    """Staff who are not superusers see only rows inside their management scope."""

    scope_action = Action.MANAGE_MASTER_DATA

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        return qs.for_user(request.user, self.scope_action)


class MembershipUnitScopeMixin:
    """A membership's unit is chosen among the units the acting user manages accounts of."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "unit":
            kwargs["queryset"] = AgencyUnit.objects.for_user(request.user, Action.MANAGE_ACCOUNTS)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class MembershipInline(MembershipUnitScopeMixin, admin.TabularInline[Membership, User]):
    model = Membership
    extra = 0
    autocomplete_fields = ["unit"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Memberships elsewhere are neither shown nor changeable by a unit admin.
        return super().get_queryset(request).for_user(request.user, Action.MANAGE_ACCOUNTS)  # type: ignore[attr-defined]


@admin.register(User)
class SiagaUserAdmin(LedgeredAdminMixin, UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, (_("Contact"), {"fields": ("phone", "language")}))  # type: ignore[misc]
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_superuser"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if _is_superuser(request):
            return readonly
        return (*readonly, *PRIVILEGE_FIELDS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A staff user who is not a superuser could take over a superuser (a new password,
        # then sign in as them): such accounts are the superusers' own business.
        if obj is not None and obj.is_superuser and not _is_superuser(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not _is_superuser(request):
            return False
        return super().has_delete_permission(request, obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Read-only fields are silently dropped from a POST; a forged POST that tries to set
        # them is refused outright instead, so that the attempt is not mistaken for a success.
        if (
            request.method == "POST"
            and not _is_superuser(request)
            and any(name in request.POST for name in PRIVILEGE_FIELDS)
        ):
            raise PermissionDenied(_("Only a superuser grants staff, superuser or group rights."))
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Groups and single permissions are many-to-many: saved here, after save_model.
        granted = {
            name: ", ".join(sorted(str(v) for v in form.cleaned_data.get(name) or ()))
            for name in ("groups", "user_permissions")
            if name in form.changed_data
        }
        if granted:
            record_admin_change(request, form.instance, "permissions_changed", granted)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = User.objects.get(pk=id)
                revoked = services.revoke_all_api_tokens(user=user)
                record_admin_change(
                    request, user, "password_changed", {"api_tokens_revoked": str(revoked)}
                )
        return response


admin.site.unregister(Group)


@admin.register(Group)
class SiagaGroupAdmin(LedgeredAdminMixin, GroupAdmin):
    """Groups carry permissions; editing one grants rights, so only superusers do."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if "permissions" in form.changed_data:
            permissions = sorted(str(p) for p in form.cleaned_data.get("permissions") or ())
            record_admin_change(
                request,
                form.instance,
                "permissions_changed",
                {"permissions": ", ".join(permissions)},
            )


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin[Agency]):
    list_display = ["kind", "name"]


@admin.register(AgencyUnit)
class AgencyUnitAdmin(LedgeredAdminMixin, ScopedAdminMixin, admin.ModelAdmin[AgencyUnit]):
    list_display = ["name", "agency", "region"]
    list_filter = ["agency"]
    search_fields = ["name", "region__code", "region__name"]
    autocomplete_fields = ["region"]


@admin.register(Membership)
class MembershipAdmin(
    LedgeredAdminMixin,
    MembershipUnitScopeMixin,
    ScopedAdminMixin,
    admin.ModelAdmin[Membership],
):
    scope_action = Action.MANAGE_ACCOUNTS
    list_display = ["user", "unit", "role", "active"]
    list_filter = ["role", "active", "unit__agency"]
    search_fields = ["user__username", "unit__name"]
    autocomplete_fields = ["user", "unit"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # The form's unit choices are scoped already; this is the rule itself, kept here too.
        if not user_can(request.user, Action.MANAGE_ACCOUNTS, obj.unit.region_id):
            raise PermissionDenied(_("You may not manage accounts of this unit."))
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["prefix", "name", "user", "created_at", "expires_at", "revoked_at"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created_at",
        "expires_at",
        "last_used_at",
    ]
    search_fields = ["user__username", "name", "prefix"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def _bawaslu(request: HttpRequest) -> bool:
    return Membership.objects.filter(
        user_id=request.user.pk or 0, active=True, role=Role.BAWASLU_SUPERVISOR
    ).exists()


@admin.register(SignInEvent)
class SignInEventAdmin(admin.ModelAdmin[SignInEvent]):
    """The sign-in record, read-only: superusers see all of it, Bawaslu (as staff) the events
    of accounts that hold a membership inside their scope."""

    list_display = ["at", "kind", "username", "ip_address", "channel"]
    list_filter = ["kind", "channel"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "kind",
        "user",
        "username",
        "ip_address",
        "user_agent",
        "channel",
        "detail",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SignInEvent]:
        qs = super().get_queryset(request)
        if _is_superuser(request):
            return qs
        in_scope = Membership.objects.for_user(request.user, Action.VIEW).values("user_id")
        return qs.filter(user_id__in=in_scope)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request) or _bawaslu(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request) or _bawaslu(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
