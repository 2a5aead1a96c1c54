"""The page's forms: they read the shape (a date, a number, a choice); the rules are the
services' own, so a page and the API refuse alike."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from siaga.safety.choices import EquipmentKind, EquipmentState, ServiceWork, Variant

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class _Styled(forms.Form):
    """Bootstrap's classes on every widget (the templates render ``{{ field }}``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            css = "form-select form-select-sm" if isinstance(widget, forms.Select) else ""
            widget.attrs.setdefault("class", css or "form-control form-control-sm")


class EquipmentForm(_Styled):
    id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("Kind"), choices=EquipmentKind.choices)
    variant = forms.ChoiceField(
        label=_("Type"), choices=_blank(_("— none —")) + list(Variant.choices), required=False
    )
    size_kg = forms.DecimalField(
        label=_("Size (kg)"), required=False, max_digits=5, decimal_places=2
    )
    serial = forms.CharField(label=_("Serial number"), max_length=60, required=False)
    zone = forms.ChoiceField(label=_("Zone"), required=False)
    location = forms.CharField(label=_("Location"), max_length=150, required=False)
    installed_on = forms.DateField(label=_("Installed on"), widget=DATE)
    expiry_on = forms.DateField(label=_("Expires on"), required=False, widget=DATE)
    next_service_on = forms.DateField(label=_("Next service on"), required=False, widget=DATE)
    responsible = forms.TypedChoiceField(label=_("Responsible officer"), coerce=int)

    def __init__(self, *args: Any, zones: Any = (), people: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone_field: Any = self.fields["zone"]
        zone_field.choices = _blank(_("— no zone —")) + [(str(z.pk), z.name) for z in zones]
        person_field: Any = self.fields["responsible"]
        person_field.choices = [(u.pk, u.display_name) for u in people]


class ChangeForm(_Styled):
    state = forms.ChoiceField(label=_("State"), choices=EquipmentState.choices)
    zone = forms.ChoiceField(label=_("Zone"), required=False)
    location = forms.CharField(label=_("Location"), max_length=150, required=False)
    expiry_on = forms.DateField(label=_("Expires on"), required=False, widget=DATE)
    next_service_on = forms.DateField(label=_("Next service on"), required=False, widget=DATE)
    responsible = forms.TypedChoiceField(label=_("Responsible officer"), coerce=int)

    def __init__(self, *args: Any, zones: Any = (), people: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone_field: Any = self.fields["zone"]
        zone_field.choices = _blank(_("— no zone —")) + [(str(z.pk), z.name) for z in zones]
        person_field: Any = self.fields["responsible"]
        person_field.choices = [(u.pk, u.display_name) for u in people]


class ServiceForm(_Styled):
    id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    performed_on = forms.DateField(label=_("Done on"), widget=DATE)
    work = forms.ChoiceField(label=_("Work done"), choices=ServiceWork.choices)
    performed_by = forms.CharField(
        label=_("Done by (when not you)"), max_length=150, required=False
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next_service_on = forms.DateField(label=_("Next service on"), required=False, widget=DATE)
    expiry_on = forms.DateField(label=_("New expiry date"), required=False, widget=DATE)
