"""The README stays true: every setting is documented, and it opens with the two commands."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from api.settings import Settings, env_name

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [env_name(f.name) for f in fields(Settings) if env_name(f.name) not in README]
    assert missing == []


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in head.strip().splitlines()] == ["make serve", "make test"]
