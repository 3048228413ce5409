"""The README stays true and short: every setting is documented, it opens with the two commands,
it fits in 150 lines, its links lead somewhere, and no page keeps a history by commit. Every make
target says what it does."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from api.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [env_name(f.name) for f in fields(Settings) if env_name(f.name) not in README]
    assert missing == []


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in head.strip().splitlines()] == ["make serve", "make test"]


def test_the_readme_has_at_most_150_lines() -> None:
    assert len(README.splitlines()) <= 150


def test_every_relative_link_of_the_readme_and_docs_exists() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
        if not (page.parent / target).exists()
    ]
    assert broken == []


def test_plain_make_prints_help_and_every_target_says_what_it_does() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rules = re.findall(r"^([^\s#.=:][^=:]*):(?!=)(.*)$", makefile, flags=re.MULTILINE)
    assert rules[0][0] == "help"  # the first rule is make's default goal
    undocumented = [name for name, rest in rules if re.fullmatch(r"[a-z][a-z_-]*", name) and "## " not in rest]
    assert undocumented == []


def test_the_docs_keep_no_history_by_commit() -> None:
    """Figures by commit belong to git log; docs/performance.md names the one RESULTS.md was made at."""
    commit = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")
    named = {
        str(page.relative_to(ROOT)): commit.findall(page.read_text(encoding="utf-8"))
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
    }
    assert {page: hashes for page, hashes in named.items() if hashes and page != "docs/performance.md"} == {}
    assert len(named.get("docs/performance.md", [])) <= 1
