"""Sign-in pages: the password step, the password change and the password reset.

The second factor's pages are in ``siaga.web.two_factor``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from siaga.accounts import throttle, two_factor
from siaga.accounts.models import User
from siaga.accounts.passwords import OutboxPasswordResetForm, password_changed


class LoginView(auth_views.LoginView):
    """The password step. A user with a second factor goes on to verify it, one who must
    have one and has none to enrolment; only a whole sign-in clears the failure counts."""

    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        following = self.get_redirect_url()
        query = "?" + urlencode({"next": following}) if following else ""
        if two_factor.has_second_factor(user):
            return redirect(reverse("login-verify") + query)
        if two_factor.requires_second_factor(user):
            return redirect(reverse("two-factor") + query)
        throttle.clear_account(user.username)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            user = form.user
            assert isinstance(user, User)
            revoked = password_changed(user=user, request=self.request, via="self")
        text = _("Your password was changed.")
        if revoked:
            text += " " + _("Your API tokens were revoked; create new ones for your devices.")
        messages.success(self.request, text)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset.html"
    form_class = OutboxPasswordResetForm
    success_url = reverse_lazy("password-reset-sent")


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            password_changed(user=form.user, request=self.request, via="reset")
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
