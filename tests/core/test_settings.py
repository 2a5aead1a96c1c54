from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from siaga import env

SIAGA = [sys.executable, "-m", "siaga.cli"]


def run_siaga(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SIAGA_", "DJANGO_"))}
    environment.update({"SIAGA_HOME": str(tmp_path / "home"), **variables})
    return subprocess.run(
        [*SIAGA, *args], env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIAGA_DEBUG", "maybe"),
        ("SIAGA_TIME_ZONE", "Mars/Olympus_Mons"),
        ("SIAGA_DATABASE_URL", "mysql://root@localhost/siaga"),
        ("SIAGA_DATABASE_URL", "not a url"),
        ("SIAGA_SECRET_KEY", "short"),
        ("SIAGA_ALLOWED_HOSTS", " , "),
        ("SIAGA_LOGIN_FAILURE_LIMIT", "many"),
        ("SIAGA_API_TOKEN_DAYS", "0"),
    ],
)
def test_bad_environment_variable_stops_start_up_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_siaga(tmp_path, "check", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_siaga_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "file"
    home.write_text("x")
    result = run_siaga(tmp_path, "check", SIAGA_HOME=str(home))
    assert result.returncode != 0
    assert "SIAGA_HOME" in result.stderr


def test_good_environment_passes_the_checks_and_keeps_a_secret_key(tmp_path: Path) -> None:
    result = run_siaga(tmp_path, "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "home" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text()
    assert len(key) >= 50
    assert run_siaga(tmp_path, "check").returncode == 0
    assert key_file.read_text() == key


RACE = """
import sys, time
from pathlib import Path
from siaga.env import create_once
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time() - 0.01))
while time.time() < start:
    pass
sys.stdout.write(create_once(Path(sys.argv[1]), sys.argv[3].encode()).decode())
"""


def test_processes_creating_a_key_file_at_once_all_read_the_one_that_won(tmp_path: Path) -> None:
    """Parallel test processes (and a web server starting beside a worker) make the ledger key
    at the same moment: each must come away with the key in the file, whole."""
    key_file = tmp_path / "home" / "ledger_ed25519.pem"
    start = f"{time.time() + 1.5:.3f}"  # all start up first, then race
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(key_file), start, f"key-of-process-{n}" * 20],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    answers = [racer.communicate(timeout=60)[0] for racer in racers]
    assert [racer.returncode for racer in racers] == [0] * 6
    assert set(answers) == {key_file.read_text()}
    assert key_file.read_text() in {f"key-of-process-{n}" * 20 for n in range(6)}
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["ledger_ed25519.pem"]


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("ON", True), ("0", False), ("no", False)]
)
def test_env_bool(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("SIAGA_X", raw)
    assert env.env_bool("SIAGA_X", not expected) is expected


def test_env_int_and_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_N", "-3")
    with pytest.raises(ImproperlyConfigured, match="SIAGA_N"):
        env.env_int("SIAGA_N", 1, minimum=0)
    monkeypatch.setenv("SIAGA_HOSTS", "a.example, b.example")
    assert env.env_list("SIAGA_HOSTS", []) == ["a.example", "b.example"]


def test_sqlite_default_is_wal_under_home(tmp_path: Path) -> None:
    config = env.env_database("SIAGA_UNSET_DB", tmp_path)
    assert config["NAME"] == str(tmp_path / "siaga.sqlite3")
    assert "journal_mode=WAL" in str(config["OPTIONS"])


def test_production_settings_pass_the_deployment_checks(tmp_path: Path) -> None:
    done = run_siaga(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SIAGA_DEBUG="0",
        SIAGA_HTTPS="1",
        SIAGA_ALLOWED_HOSTS="siaga.kpu-okut.example",
        SIAGA_CSRF_TRUSTED_ORIGINS="https://siaga.kpu-okut.example",
        SIAGA_SECRET_KEY="a production secret key of more than fifty characters, 0123456789",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # Without TLS the same checks refuse: the test can fail.
    plain = run_siaga(tmp_path, "check", "--deploy", "--fail-level", "WARNING", SIAGA_DEBUG="0")
    assert plain.returncode == 1


@pytest.mark.django_db
def test_sqlite_commits_are_durable_by_default() -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's commits are durable (synchronous_commit=on)")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2  # FULL


def test_sqlite_synchronous_can_be_chosen_and_is_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIAGA_SQLITE_SYNCHRONOUS", "normal")
    assert "PRAGMA synchronous=NORMAL;" in str(env.env_database("SIAGA_UNSET_DB", tmp_path))
    monkeypatch.setenv("SIAGA_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(ImproperlyConfigured, match="SIAGA_SQLITE_SYNCHRONOUS='OFF'"):
        env.env_database("SIAGA_UNSET_DB", tmp_path)


def test_postgres_url_is_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIAGA_DB", "postgres://siaga:pw@db.internal:5432/siaga")
    config = env.env_database("SIAGA_DB", tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["NAME"], config["PORT"]) == ("db.internal", "siaga", 5432)
    assert config["OPTIONS"] == {"options": "-c jit=off"}


def test_postgres_options_in_the_url_are_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "SIAGA_DB",
        "postgres://siaga@db.internal/siaga?sslmode=require&options=-c%20work_mem%3D64MB",
    )
    config = env.env_database("SIAGA_DB", tmp_path)
    assert config["OPTIONS"] == {"sslmode": "require", "options": "-c work_mem=64MB -c jit=off"}


@pytest.mark.django_db
def test_the_postgres_connection_runs_without_jit() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no JIT")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
