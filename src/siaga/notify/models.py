"""The outbox: endpoints (where messages go) and messages (what goes, and how far it got)."""

from __future__ import annotations

from typing import Any, Self
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siaga.accounts.models import Membership
from siaga.accounts.permissions import Action
from siaga.accounts.scoping import scope_roots
from siaga.core import i18n
from siaga.core.ids import uuid7
from siaga.core.models import UUIDModel
from siaga.notify.choices import Channel, CircuitState, EndpointChannel, MessageState
from siaga.regions.codes import subtree_q

# An endpoint's own timeout may not exceed this; the lease must outlast any send.
MAX_ENDPOINT_TIMEOUT = 30.0


def delivery_key(channel: str, address: str) -> str:
    """The receiving system an endpoint's messages go to, shared by every endpoint that reaches
    it: a webhook's host and port, the deployment's bot and one Telegram chat, the deployment's
    SMTP server. The per-endpoint concurrency limit and the circuit breaker are kept per key.

    (Migration 0003 holds a copy of this function: migrations never import app code.)
    """
    if channel == Channel.WEBHOOK:
        parts = urlsplit(address)
        try:
            port = parts.port
        except ValueError:
            port = None
        default = 443 if parts.scheme == "https" else 80
        return f"webhook:{(parts.hostname or '').lower()}:{port or default}"[:300]
    if channel == Channel.TELEGRAM:
        return f"telegram:{address}"[:300]
    if channel == Channel.EMAIL:
        return "email:smtp"
    return ""


class EndpointQuerySet(models.QuerySet["Endpoint"]):
    def manageable_by(self, user: Any) -> Self:
        """The user's own e-mail and Telegram endpoints, and the webhooks of units they manage."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        own = Q(user=user)
        roots = scope_roots(user, Action.MANAGE_MASTER_DATA)
        if roots is None:
            return self.filter(own | Q(channel=Channel.WEBHOOK))
        return self.filter(
            own | (Q(channel=Channel.WEBHOOK) & subtree_q("unit__region__code", sorted(roots)))
        )


class Endpoint(UUIDModel):
    """Where a person's or a unit's messages go: an e-mail address, a Telegram chat, a webhook.

    Removing an endpoint deactivates it (its history of messages stays); a webhook belongs to an
    agency unit (e.g. a Polres command-centre system) and signs its requests with ``secret``.
    """

    channel = models.CharField(_("channel"), max_length=10, choices=EndpointChannel.choices)
    address = models.CharField(
        _("address"),
        max_length=500,
        help_text=_("E-mail address, Telegram chat id, or webhook URL."),
    )
    # A person's contact details go with the person.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notify_endpoints",
        verbose_name=_("user"),
    )
    # Units are master data: one with a webhook is not deleted by accident.
    unit = models.ForeignKey(
        "accounts.AgencyUnit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notify_endpoints",
        verbose_name=_("agency unit"),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=64,
        blank=True,
        help_text=_("Webhooks: the HMAC-SHA256 key of X-Siaga-Signature; shown once."),
    )
    timeout = models.FloatField(
        _("timeout (seconds)"),
        null=True,
        blank=True,
        help_text=_("Webhooks: how long to wait for an answer; empty for the default."),
    )
    active = models.BooleanField(_("active"), default=True)
    last_error = models.TextField(_("last error"), blank=True)
    # Derived from channel and address (``delivery_key``), kept in a column so that the claim
    # can leave out, in SQL, the messages of receivers at their limit or with an open circuit.
    delivery_key = models.CharField(_("delivery key"), max_length=300, blank=True, db_index=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification endpoint")
        verbose_name_plural = _("notification endpoints")
        ordering = ["channel", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        channel__in=[Channel.EMAIL, Channel.TELEGRAM],
                        user__isnull=False,
                        unit__isnull=True,
                    )
                    | Q(channel=Channel.WEBHOOK, user__isnull=True, unit__isnull=False)
                ),
                name="notify_endpoint_owner_fits_channel",
            ),
            models.CheckConstraint(
                condition=Q(timeout__isnull=True)
                | Q(timeout__gt=0, timeout__lte=MAX_ENDPOINT_TIMEOUT),
                name="notify_endpoint_timeout_range",
            ),
            models.UniqueConstraint(
                fields=["user", "channel", "address"],
                condition=Q(active=True, user__isnull=False),
                name="notify_endpoint_personal_unique",
            ),
            models.UniqueConstraint(
                fields=["unit", "address"],
                condition=Q(active=True, unit__isnull=False),
                name="notify_endpoint_webhook_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.address}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.delivery_key = delivery_key(self.channel, self.address)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "address" in update_fields:
            kwargs["update_fields"] = {*update_fields, "delivery_key"}
        super().save(*args, **kwargs)


class MessageQuerySet(models.QuerySet["Message"]):
    def inbox_of(self, user: Any) -> Self:
        """The user's own in-app messages, unread first, newest first."""
        unread = models.ExpressionWrapper(
            Q(read_at__isnull=True), output_field=models.BooleanField()
        )
        return (
            self.filter(user=user, channel=Channel.INAPP, state=MessageState.SENT)
            .select_related("user")
            .order_by(unread.desc(), "-created_at", "-id")
        )

    def unread_count(self, user: Any) -> int:
        return self.filter(
            user=user, channel=Channel.INAPP, state=MessageState.SENT, read_at__isnull=True
        ).count()

    def outbox_managed_by(self, user: Any) -> Self:
        """Outbox messages (any state) to endpoints of units, or of people with a membership,
        in the user's management scope. Empty for a user who manages nothing."""
        outbox = self.exclude(channel=Channel.INAPP)
        roots = scope_roots(user, Action.MANAGE_MASTER_DATA)
        if roots is None:
            return outbox
        if not roots:
            return self.none()
        people = Membership.objects.filter(active=True).filter(
            subtree_q("unit__region__code", sorted(roots))
        )
        return outbox.filter(
            subtree_q("endpoint__unit__region__code", sorted(roots))
            | Q(user__isnull=False, user__in=people.values("user_id"))
        )

    def dead_letters_for(self, user: Any) -> Self:
        return self.outbox_managed_by(user).filter(state=MessageState.DEAD)


class Message(models.Model):
    """One notification to one destination: an in-app message, or an outbox row to deliver.

    Outbox rows wait ``pending`` until a worker claims them (a lease: ``lease_until`` and
    ``lease_owner``), then become ``sent``, or ``dead`` after too many attempts or a permanent
    error. In-app messages are ``sent`` when written and carry ``read_at``. A notification
    merged into an earlier one of its group is ``grouped``; the earlier one counts it.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The outbox is a delivery queue, not evidence (the ledger is): it goes with its endpoint.
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("endpoint"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notify_messages",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=60)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True)
    # Title and body as siaga.core.i18n trees, rendered in the recipient's language when the
    # message is delivered or shown; title and body above are the same in Bahasa Indonesia.
    text = models.JSONField(_("text"), default=dict, blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    about_type = models.CharField(_("about (type)"), max_length=60, blank=True)
    about_id = models.CharField(_("about (id)"), max_length=64, blank=True)
    dedup_key = models.CharField(_("de-duplication key"), max_length=255)
    group_key = models.CharField(_("group key"), max_length=200, blank=True)
    count = models.PositiveIntegerField(
        _("count"), default=1, help_text=_("Notifications this message stands for.")
    )
    grouped_into = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="grouped",
        verbose_name=_("grouped into"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=MessageState.choices, default=MessageState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    lease_owner = models.CharField(_("leased by"), max_length=100, blank=True)
    # Set when a claim finds an earlier attempt whose outcome was never recorded (its worker
    # died mid-send) or whose answer never came (a timeout): the recipient may have it already.
    possible_repeat = models.BooleanField(_("possible repeat"), default=False)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification message")
        verbose_name_plural = _("notification messages")
        ordering = ["-created_at"]
        indexes = [
            # The delivery loop's poll: pending rows by due time.
            models.Index(fields=["state", "next_attempt_at"], name="notify_msg_due"),
            models.Index(fields=["user", "channel", "read_at"], name="notify_msg_inbox"),
            # Sends under way (leases held), counted per receiver by every claim.
            models.Index(
                fields=["lease_until"],
                condition=Q(lease_until__isnull=False),
                name="notify_msg_leased",
            ),
            models.Index(
                fields=["group_key", "created_at"],
                condition=~Q(group_key=""),
                name="notify_msg_group",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "dedup_key"],
                condition=Q(endpoint__isnull=False),
                name="notify_msg_dedup_endpoint",
            ),
            models.UniqueConstraint(
                fields=["user", "dedup_key"],
                condition=Q(channel=Channel.INAPP),
                name="notify_msg_dedup_inapp",
            ),
            models.CheckConstraint(
                condition=Q(channel=Channel.INAPP, endpoint__isnull=True, user__isnull=False)
                | (~Q(channel=Channel.INAPP) & Q(endpoint__isnull=False)),
                name="notify_msg_destination_fits_channel",
            ),
            models.CheckConstraint(
                condition=~Q(state=MessageState.PENDING) | Q(next_attempt_at__isnull=False),
                name="notify_msg_pending_has_due_time",
            ),
            models.CheckConstraint(
                condition=Q(state=MessageState.GROUPED) | Q(grouped_into__isnull=True),
                name="notify_msg_only_grouped_points_to_group",
            ),
            models.CheckConstraint(condition=Q(count__gte=1), name="notify_msg_count_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind}: {self.title}"

    @property
    def about(self) -> tuple[str, str] | None:
        return (self.about_type, self.about_id) if self.about_type else None

    @property
    def language(self) -> str:
        """The recipient's language; a unit's webhook gets the site's default."""
        chosen = getattr(self.user, "language", "") if self.user_id else ""
        return chosen or settings.LANGUAGE_CODE

    def rendered(self, language: str | None = None) -> tuple[str, str]:
        """(title, body) in ``language`` (default: the recipient's)."""
        if not self.text:
            return self.title, self.body
        language = language or self.language
        title = " ".join(i18n.render(self.text.get("title", self.title), language).split())
        return (
            title if len(title) <= 300 else title[:299] + "…",
            i18n.render(self.text.get("body", self.body), language),
        )

    @property
    def display_title(self) -> str:
        return self.rendered()[0]

    @property
    def display_body(self) -> str:
        return self.rendered()[1]

    @property
    def is_unread(self) -> bool:
        return self.channel == Channel.INAPP and self.read_at is None


class CircuitQuerySet(models.QuerySet["Circuit"]):
    def visible_to(self, user: Any) -> Self:
        """Circuits of receivers that endpoints in the user's management scope reach (the dead
        letters' scope): units' webhooks, and the endpoints of people with a membership."""
        roots = scope_roots(user, Action.MANAGE_MASTER_DATA)
        if roots is None:
            return self.all()
        if not roots:
            return self.none()
        people = Membership.objects.filter(active=True).filter(
            subtree_q("unit__region__code", sorted(roots))
        )
        endpoints = Endpoint.objects.filter(
            subtree_q("unit__region__code", sorted(roots))
            | Q(user__isnull=False, user__in=people.values("user_id"))
        )
        return self.filter(key__in=endpoints.values("delivery_key"))


class Circuit(models.Model):
    """The circuit breaker of one receiving system (``Endpoint.delivery_key``), in the database
    so that every worker process reads and writes the same state.

    closed (``open_until`` empty): messages are sent; ``failures`` counts consecutive failed
    sends. open (``open_until`` in the future): its due messages are deferred to
    ``open_until`` without a send or an attempt. half-open (``open_until`` passed): one message
    is the probe (``probe_message``, until ``probe_until``); its success closes the circuit,
    its failure opens it again for another cool-down.
    """

    key = models.CharField(_("receiver"), max_length=300, unique=True)
    failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    open_until = models.DateTimeField(_("open until"), null=True, blank=True)
    probe_message = models.UUIDField(_("probe message"), null=True, blank=True)
    probe_until = models.DateTimeField(_("probe until"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CircuitQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery circuit")
        verbose_name_plural = _("delivery circuits")
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key}: {self.state()}"

    def state(self, now: Any = None) -> str:
        """``closed``, ``open`` or ``half_open`` at ``now``."""
        if self.open_until is None:
            return CircuitState.CLOSED
        if self.open_until > (now or timezone.now()):
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def probing(self, now: Any) -> bool:
        return self.probe_until is not None and self.probe_until > now

    @property
    def state_label(self) -> str:
        return str(CircuitState(self.state()).label)
