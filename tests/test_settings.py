"""Settings from the environment: log levels in any case, and a malformed variable named in a clear
error (no traceback from `claims`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from api.cli import main
from api.settings import Settings


@pytest.mark.parametrize("raw", ["warning", "WARNING", " Warning "])
def test_log_levels_are_read_in_any_case(raw: str) -> None:
    assert Settings.from_env({"CLAIMS_LOG_LEVEL": raw}).log_level == "WARNING"


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("CLAIMS_LOG_LEVEL", "loud", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("CLAIMS_POOL_MAX_SIZE", "ten", "invalid literal for int()"),
        ("CLAIMS_REQUEST_TIMEOUT_S", "soon", "could not convert string to float"),
    ],
)
def test_a_malformed_variable_is_named_with_its_value(name: str, raw: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({name: raw})
    assert str(caught.value).startswith(f"{name}={raw!r}: ")
    assert reason in str(caught.value)


def test_the_cli_says_which_variable_is_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMS_LOG_LEVEL", "loud")
    result = CliRunner().invoke(main, ["db", "migrate"])
    assert result.exit_code == 2
    assert "CLAIMS_LOG_LEVEL='loud': expected one of" in result.output
    assert "Traceback" not in result.output
