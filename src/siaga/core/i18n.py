"""Text kept as what is needed to render it, so each reader gets it in their own language.

A notification, an alarm's title or a timeline line is written once and read later, by people
who chose different languages. Freezing it at write time would freeze one language; so the
writer stores a small JSON tree instead, and ``render`` turns it into a sentence under whatever
language is active (``translation.override(...)`` by the caller):

    {"msgid": "Acknowledge within %(minutes)s minutes.", "params": {"minutes": 5}}
    {"msgid": "%(count)s person", "plural": "%(count)s people", "n": 3, "params": {...}}
    {"label": "siaga.incidents.choices.Category", "value": "fire"}      # a choice's label
    {"lines": [tree, tree, ...], "sep": "\\n"}
    "plain text"                                                        # names, numbers

Every msgid written with ``text`` must also be seen by makemessages, so call sites write it as
``gettext_noop("…")`` (that very name: makemessages looks for it); ``i18n.ngettext`` is
extracted by its own name. ``msgids`` lets a test check that each one is translated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import ngettext as _ngettext

Text = str | dict[str, Any]


def text(msgid: str, **params: Any) -> dict[str, Any]:
    """A translatable sentence; ``params`` may be trees themselves."""
    return {"msgid": str(msgid), "params": {k: _param(v) for k, v in params.items()}}


def ngettext(singular: str, plural: str, n: int, **params: Any) -> dict[str, Any]:
    """A sentence with a number. Named so that makemessages extracts both forms at the call
    site (``i18n.ngettext("…", "…", n)``), with no ``gettext_noop``."""
    return {
        "msgid": str(singular),
        "plural": str(plural),
        "n": int(n),
        "params": {k: _param(v) for k, v in params.items()},
    }


def label(choices: type, value: Any) -> dict[str, Any]:
    """The label of a ``TextChoices``/``IntegerChoices`` member, rendered in the reader's
    language (the class must be importable by its dotted path)."""
    return {"label": f"{choices.__module__}.{choices.__qualname__}", "value": value}


def lines(*parts: Text | None, sep: str = "\n") -> dict[str, Any]:
    return {"lines": [_param(p) for p in parts if p not in (None, "")], "sep": sep}


def _param(value: Any) -> Any:
    if isinstance(value, dict) or value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def render(tree: Any, language: str | None = None) -> str:
    """The sentence ``tree`` stands for, in ``language`` (default: the active one)."""
    if language:
        with translation.override(language):
            return _render(tree)
    return _render(tree)


def _render(tree: Any) -> str:
    if not isinstance(tree, dict):
        return "" if tree is None else str(tree)
    if "lines" in tree:
        return str(tree.get("sep", "\n")).join(_render(part) for part in tree["lines"])
    if "label" in tree:
        try:
            choices = import_string(tree["label"])
            return str(choices(tree["value"]).label)
        except (ImportError, ValueError):
            return str(tree["value"])  # a value since removed from its choices
    params = {k: _render(v) if isinstance(v, dict) else v for k, v in tree["params"].items()}
    if "plural" in tree:
        sentence = _ngettext(tree["msgid"], tree["plural"], tree["n"])
    else:
        sentence = gettext(tree["msgid"])
    return sentence % params if params else sentence


def msgids(tree: Any) -> Iterator[str | tuple[str, str]]:
    """Every msgid the tree uses (a plural as ``(singular, plural)``), labels' too."""
    if not isinstance(tree, dict):
        return
    if "lines" in tree:
        for part in tree["lines"]:
            yield from msgids(part)
    elif "label" in tree:
        # With no language active, a lazy label renders as its msgid.
        with translation.override(None):
            yield _render(tree)
    else:
        yield (tree["msgid"], tree["plural"]) if "plural" in tree else tree["msgid"]
        for value in tree["params"].values():
            yield from msgids(value)
