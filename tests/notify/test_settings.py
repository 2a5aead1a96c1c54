"""The notify settings are read like every other: a bad value stops start-up, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from siaga import env
from tests.core.test_settings import run_siaga


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIAGA_PUBLIC_URL", "siaga.example"),
        ("SIAGA_NOTIFY_POLL_SECONDS", "often"),
        ("SIAGA_NOTIFY_LEASE_SECONDS", "0.5"),
        ("SIAGA_NOTIFY_ENDPOINT_CONCURRENCY", "0"),
        ("SIAGA_NOTIFY_BREAKER_FAILURES", "many"),
        ("SIAGA_NOTIFY_BREAKER_COOLDOWN_SECONDS", "0.5"),
        ("SIAGA_TELEGRAM_API_URL", "ftp://api.telegram.org"),
    ],
)
def test_bad_notify_variable_stops_start_up_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_siaga(tmp_path, "check", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_env_float_and_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIAGA_X", "0.25")
    assert env.env_float("SIAGA_X", 1.0) == 0.25
    for bad in ("nan", "inf", "-1", "x"):
        monkeypatch.setenv("SIAGA_X", bad)
        with pytest.raises(ImproperlyConfigured, match="SIAGA_X"):
            env.env_float("SIAGA_X", 1.0)
    monkeypatch.setenv("SIAGA_U", "https://siaga.okut.example/")
    assert env.env_url("SIAGA_U", "http://x") == "https://siaga.okut.example"
    monkeypatch.delenv("SIAGA_U")
    assert env.env_url("SIAGA_U", "http://127.0.0.1:8000") == "http://127.0.0.1:8000"


def test_without_smtp_the_deploy_check_passes_with_no_mailer(tmp_path: Path) -> None:
    result = run_siaga(tmp_path, "check", "--deploy", "--fail-level", "ERROR")
    assert result.returncode == 0, result.stderr
    assert "mail." not in result.stderr
    with_smtp = run_siaga(
        tmp_path, "check", "--deploy", "--fail-level", "ERROR", SIAGA_EMAIL_HOST="127.0.0.1"
    )
    assert with_smtp.returncode == 0, with_smtp.stderr
