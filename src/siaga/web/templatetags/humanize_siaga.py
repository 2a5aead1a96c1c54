from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def thousands(value: object) -> str:
    """1234567 → "1.234.567" in Bahasa Indonesia, "1,234,567" in English."""
    if value in (None, ""):
        return ""
    try:
        return number_format(int(str(value)), force_grouping=True)
    except ValueError:
        return str(value)
