"""Fixtures shared by every test: the regions, the agencies and the test personas.

Personas are named by role and region (Healthchecks' habit): ``guard_okut`` is the guard of
Kabupaten OKU Timur, ``kpu_oku`` the KPU operator of the neighbouring Kabupaten OKU.
They are built once per test database and every test runs in a rolled-back transaction.

The suite runs in parallel (pytest-xdist, ``-n auto`` in pyproject): each process has its own
test database; docs/testing.md says what else a test must keep to itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import RunPython
from django.db.migrations.state import ProjectState
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Agency, AgencyUnit, User
from siaga.accounts.services import add_membership
from siaga.accounts.two_factor import requires_second_factor
from siaga.regions.models import Region
from siaga.regions.services import load_regions
from siaga.sites.choices import SiteKind, ZoneKind
from siaga.sites.models import Site, Zone

# The tests' webhook receivers, SMTP and Telegram stand-ins listen on 127.0.0.1, which a real
# deployment refuses as a webhook address; the refusal itself is tested with this set back off.
# The environment carries it to the workers that tests start as processes.
settings.NOTIFY_WEBHOOK_ALLOW_PRIVATE = True
os.environ["SIAGA_NOTIFY_WEBHOOK_ALLOW_PRIVATE"] = "1"
# Argon2 as configured takes ~0.4 s of CPU a hash, and the suite hashes and checks passwords
# hundreds of times (personas, sign-ins, the throttle's failures). Tests store MD5 hashes;
# Argon2 and PBKDF2 hashes still verify. The production list is what
# tests/accounts/test_passwords.py::test_passwords_are_stored_with_argon2 checks, and what the
# processes that tests start (siaga demo, workers) run with.
PRODUCTION_PASSWORD_HASHERS = list(settings.PASSWORD_HASHERS)
settings.PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    *PRODUCTION_PASSWORD_HASHERS,
]

# Each xdist process gets its own SIAGA_HOME (below the configured one), so files kept there —
# the ledger's kept checkpoint, its signing key, media — are never another process's. The keys
# already read at start-up are copied in; the processes that tests start inherit the home.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER and not os.environ.get("SIAGA_TEST_HOME_SPLIT"):
    _base = Path(settings.SIAGA_HOME)
    _home = _base / "xdist" / _XDIST_WORKER
    _home.mkdir(parents=True, exist_ok=True)
    for _name in ("secret_key", "data_key"):
        if (_base / _name).exists() and not (_home / _name).exists():
            shutil.copy2(_base / _name, _home / _name)
    settings.SIAGA_HOME = _home
    settings.MEDIA_ROOT = _home / "media"
    os.environ["SIAGA_HOME"] = str(_home)
    os.environ["SIAGA_TEST_HOME_SPLIT"] = "1"

PASSWORD = "correct horse battery staple"
# The authenticator secret (hex, as django-otp stores it) of every persona whose role signs in
# with a second factor; ``totp_code()`` is what their app would show now.
TOTP_KEY = "3132333435363738393031323334353637383930"
OKUT = "16.08"
OKU = "16.01"

PERSONAS = {
    # fixture name: (username, agency, region, role)
    "guard_okut": ("jaga.okut", AgencyKind.POLRI, OKUT, Role.GUARD),
    "operator_okut": ("kpu.okut", AgencyKind.KPU, OKUT, Role.KPU_OPERATOR),
    "commissioner_okut": ("komisioner.okut", AgencyKind.KPU, OKUT, Role.KPU_COMMISSIONER),
    "kapolres_okut": ("kapolres.okut", AgencyKind.POLRI, OKUT, Role.POLICE_COMMANDER),
    "bawaslu_okut": ("bawaslu.okut", AgencyKind.BAWASLU, OKUT, Role.BAWASLU_SUPERVISOR),
    "admin_okut": ("admin.okut", AgencyKind.KPU, OKUT, Role.ADMIN),
    "kpu_oku": ("kpu.oku", AgencyKind.KPU, OKU, Role.KPU_OPERATOR),
    "admin_oku": ("admin.oku", AgencyKind.KPU, OKU, Role.ADMIN),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` skip on SQLite with a reason, or fail where CI demands PG."""
    vendor = os.environ.get("SIAGA_DATABASE_URL", "sqlite").split(":", 1)[0]
    on_postgres = vendor.startswith("postgres")
    require = os.environ.get("SIAGA_REQUIRE_POSTGRES") == "1"
    if require and not on_postgres:
        raise pytest.UsageError("SIAGA_REQUIRE_POSTGRES=1 but SIAGA_DATABASE_URL is not PostgreSQL")
    if on_postgres:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: set SIAGA_DATABASE_URL=postgres://… (CI runs it there)"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@dataclass
class World:
    units: dict[str, AgencyUnit]
    warehouse_okut: Site
    hall_a_okut: Zone
    warehouse_oku: Site


# The regions as ``load_regions`` wrote them into this process's test database, kept to write
# them back at once after a transactional test's flush (instead of loading all 91,599 again).
_REGION_COLUMNS = ("code", "name", "level", "kind", "parent_id", "postal_code", "active")
_region_rows: list[tuple[Any, ...]] = []


def _load_test_regions() -> None:
    if not _region_rows or Region.objects.exists():
        load_regions()
        # Parents before children, as load_regions inserts them (the foreign key holds).
        if not _region_rows:
            rows = Region.objects.order_by("level", "code").values_list(*_REGION_COLUMNS)
            _region_rows.extend(rows)
        return
    table = connection.ops.quote_name(Region._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _REGION_COLUMNS)
    marks = ", ".join(["%s"] * len(_REGION_COLUMNS))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", _region_rows)  # noqa: S608


def _build_test_world() -> None:
    _load_test_regions()
    agencies = {
        kind: Agency.objects.create(kind=kind, name=label) for kind, label in AgencyKind.choices
    }
    units: dict[tuple[str, str], AgencyUnit] = {}
    for kind in AgencyKind.values:
        for region, label in ((OKUT, "OKU Timur"), (OKU, "OKU")):
            units[(kind, region)] = AgencyUnit.objects.create(
                agency=agencies[kind], region_id=region, name=f"{kind.upper()} {label}"
            )
    for username, kind, region, role in PERSONAS.values():
        user = User(username=username, first_name=username.split(".")[0].title())
        user.set_password(PASSWORD)
        user.save()
        add_membership(actor=None, user=user, unit=units[(kind, region)], role=role)
    root = User(username="root", is_superuser=True, is_staff=True)
    root.set_password(PASSWORD)
    root.save()
    for user in User.objects.all():
        if requires_second_factor(user):
            TOTPDevice.objects.create(user=user, name="authenticator", key=TOTP_KEY, confirmed=True)
    okut = Site.objects.create(
        code="GUDANG-16.08",
        name="Gudang Logistik KPU OKU Timur",
        kind=SiteKind.WAREHOUSE,
        region_id="16.08.01.1008",
        owner_unit=units[(AgencyKind.KPU, OKUT)],
        latitude=Decimal("-4.317500"),
        longitude=Decimal("104.353800"),
    )
    Zone.objects.create(site=okut, name="Gudang A", kind=ZoneKind.STORAGE, restricted=True)
    Zone.objects.create(site=okut, name="Gerbang utama", kind=ZoneKind.GATE)
    oku = Site.objects.create(
        code="GUDANG-16.01",
        name="Gudang Logistik KPU OKU",
        kind=SiteKind.WAREHOUSE,
        region_id="16.01.14",
        owner_unit=units[(AgencyKind.KPU, OKU)],
    )
    Zone.objects.create(site=oku, name="Gudang A", kind=ZoneKind.STORAGE, restricted=True)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        _build_test_world()


# SIAGA's data migrations with the project states before and after each, worked out once per
# process: the states' historical models are rendered on first use and kept.
_data_migrations: list[tuple[RunPython, str, ProjectState, ProjectState]] = []


def _rerun_data_migrations() -> None:
    """The rows SIAGA's data migrations write (the ledger's head, default policies), written
    again with each migration's own historical models, in migration order."""
    if not _data_migrations:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
        state = ProjectState(real_apps=executor.loader.unmigrated_apps)
        for migration, _backwards in plan:
            for operation in migration.operations:
                before = state.clone()
                operation.state_forwards(migration.app_label, state)
                if isinstance(operation, RunPython) and migration.__module__.startswith("siaga."):
                    _data_migrations.append((operation, migration.app_label, before, state.clone()))
    with connection.schema_editor() as editor:
        for operation, app_label, before, after in _data_migrations:
            operation.database_forwards(app_label, editor, before, after)


@pytest.fixture(autouse=True)
def _world_after_a_flush(request: pytest.FixtureRequest) -> None:
    """A transactional test empties every table when it ends: the test world, and the rows
    the data migrations wrote. A later transactional test that uses the world gets both back
    (the others pay nothing)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    if not {"world", "root", *PERSONAS} & set(request.fixturenames):
        return
    request.getfixturevalue("transactional_db")
    if User.objects.filter(username="root").exists():
        return
    _rerun_data_migrations()
    _build_test_world()


@pytest.fixture
def world(db: None) -> World:
    return World(
        units={f"{u.agency.kind}:{u.region_id}": u for u in AgencyUnit.objects.all()},
        warehouse_okut=Site.objects.get(code="GUDANG-16.08"),
        hall_a_okut=Zone.objects.get(site__code="GUDANG-16.08", name="Gudang A"),
        warehouse_oku=Site.objects.get(code="GUDANG-16.01"),
    )


def _persona(name: str) -> User:
    return User.objects.get(username=PERSONAS[name][0])


@pytest.fixture
def guard_okut(db: None) -> User:
    return _persona("guard_okut")


@pytest.fixture
def operator_okut(db: None) -> User:
    return _persona("operator_okut")


@pytest.fixture
def commissioner_okut(db: None) -> User:
    return _persona("commissioner_okut")


@pytest.fixture
def kapolres_okut(db: None) -> User:
    return _persona("kapolres_okut")


@pytest.fixture
def bawaslu_okut(db: None) -> User:
    return _persona("bawaslu_okut")


@pytest.fixture
def admin_okut(db: None) -> User:
    return _persona("admin_okut")


@pytest.fixture
def kpu_oku(db: None) -> User:
    return _persona("kpu_oku")


@pytest.fixture
def admin_oku(db: None) -> User:
    return _persona("admin_oku")


@pytest.fixture
def root(db: None) -> User:
    return User.objects.get(username="root")


def totp_code(key: str = TOTP_KEY) -> str:
    """The code an authenticator app with this secret shows now."""
    return f"{totp(bytes.fromhex(key)):06d}"


class VerifiedClient(Client):
    """A test client whose ``force_login`` also passes the user's second factor, as a whole
    sign-in would: tests of other apps see a verified session, production code is unchanged.
    A user made in a test whose role needs a second factor is given the test authenticator
    first. ``force_login(user, verified=False)`` stops after the password."""

    def force_login(self, user: Any, backend: str | None = None, verified: bool = True) -> None:
        super().force_login(user, backend)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if verified and device is None and requires_second_factor(user):
            device = TOTPDevice.objects.create(
                user=user, name="authenticator", key=TOTP_KEY, confirmed=True
            )
        if verified and device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()


@pytest.fixture
def client() -> VerifiedClient:
    return VerifiedClient()


@pytest.fixture
def client_for() -> Iterator[Any]:
    """``client_for(user)``: a test client signed in as ``user``, second factor passed."""

    def make(user: User | None, *, verified: bool = True) -> Client:
        client = VerifiedClient()
        if user is not None:
            client.force_login(user, verified=verified)
        return client

    yield make


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
