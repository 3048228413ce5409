"""extract/: datelines, dates, speakers, refused input, the demo article and a fixed PolNeAR dev slice.

No database here; `claims extract --write` is in test_extract_cli.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from extract import demo
from extract.dateline import find
from extract.document import Meta, extract
from extract.evaluate import score_dev
from extract.polnear import trim
from extract.text import ExtractError, check
from extract.when import resolve
from schema.documents import SourceDocument

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("text", "place", "agency", "publisher", "when"),
    [
        ("BERLIN, November 26. /TASS/. Participants agreed.", "Berlin", "TASS", "TASS", date(2025, 11, 26)),
        ("WASHINGTON (AP) — The Senate voted.", "Washington", "AP", "Associated Press", None),
        ("KYIV, Ukraine (AP) — Drones struck.", "Kyiv", "AP", "Associated Press", None),
        ("LONDON, Nov 26 (Reuters) - Shares fell.", "London", "Reuters", "Reuters", date(2025, 11, 26)),
        ("PARIS, Nov. 3, 2024 (AFP) - Ministers met.", "Paris", "AFP", "Agence France-Presse", date(2024, 11, 3)),
    ],
)
def test_datelines_of_the_agencies_give_place_publisher_and_date(
    text: str, place: str, agency: str, publisher: str, when: date | None
) -> None:
    line = find("Headline\n\n" + text)
    assert line is not None
    assert (line.place, line.agency, line.publisher) == (place, agency, publisher)
    assert line.when(2025, TODAY) == when


def test_a_text_without_a_dateline_has_none() -> None:
    assert find("The minister said on Monday that taxes would rise.") is None


def test_a_dateline_without_a_year_takes_the_latest_such_day_up_to_today() -> None:
    line = find("MOSCOW, December 30. /TASS/. Text.")
    assert line is not None
    assert line.when(None, TODAY) == date(2025, 12, 30)


@pytest.mark.parametrize(
    ("sentence", "expected", "basis"),
    [
        ("Merz said on Monday that talks would go on.", date(2025, 11, 24), "relative"),
        ("He said yesterday that it was over.", date(2025, 11, 25), "relative"),
        ("She told reporters on November 20 that she would run.", date(2025, 11, 20), "explicit"),
        ("Rubio informed them about the November 23 talks.", date(2025, 11, 26), "reported"),
        ("The statement says they agree.", date(2025, 11, 26), "reported"),
    ],
)
def test_when_said_reads_explicit_and_relative_days_against_the_reporting_date(
    sentence: str, expected: date, basis: str
) -> None:
    when = resolve(sentence, date(2025, 11, 26))  # a Wednesday
    assert (when.on, when.basis) == (expected, basis)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("abc\x00def", "binary"),
        ("<html><body><p> </p></body></html>", "empty"),
        ("Der Bundeskanzler sagte am Montag, dass die Regierung die Steuern nicht erhöhen werde.", "language"),
    ],
)
def test_unusable_text_is_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(ExtractError) as info:
        check(text)
    assert info.value.code == code
    assert info.value.field == "text"


def test_html_is_reduced_to_its_text() -> None:
    text = check("<html><head><script>x()</script></head><body><p>The minister said so.</p><p>Next.</p></body>")
    assert text == "The minister said so.\n\nNext."


def test_an_article_becomes_a_valid_import_document_with_attribution_spans() -> None:
    text = (
        "Minister resigns\n\n"
        "LONDON, Nov 26 (Reuters) - British Finance Minister Jane Doe said on Monday that she would resign.\n\n"
        '"I have done what I came to do," Doe told reporters. "It is time to go."\n'
    )
    result = extract(text, Meta(published=date(2025, 11, 26)))
    SourceDocument.model_validate(result.document)
    source = result.document["source"]
    assert (source["publisher"]["name"], source["published_at"], source["title"]) == (
        "Reuters",
        "2025-11-26",
        "Minister resigns",
    )
    claims = result.document["claims"]
    assert claims, result.attributions
    assert {s["entity"]["name"] for c in claims for s in c["speakers"]} == {"Jane Doe"}
    quote = next(c for c in claims if c["kind"] == "direct_quote")
    assert "I have done what I came to do" in quote["content"]
    first = next(c for c in claims if "resign" in c["content"])
    assert first["said_at"] == "2025-11-24"  # "on Monday" before Wednesday the 26th
    for att in result.attributions:
        for role in ("cue", "source", "content"):
            assert all(0 <= s < e <= len(text) for s, e in att[role])
        if att["claim"] is not None:
            claim = claims[att["claim"]]
            s, e = claim["appearance"]["span"]
            assert text[s:e] == claim["appearance"]["quote"]


@pytest.mark.shared_data
def test_the_demo_article_finds_most_hand_normalised_claims_with_their_speakers(shared_data: Path) -> None:
    comparison = demo.run(shared_data / demo.DEMO_TEXT.name)
    assert comparison.source == {
        "publisher": ("TASS", "TASS"),
        "reported": ("2025-11-26", "2025-11-26"),
        "dateline place": ("Berlin", "Berlin"),
    }
    assert comparison.found_with_speakers >= 8, comparison.table()


@pytest.mark.shared_data
def test_the_evaluation_scores_a_fixed_dev_slice_by_the_protocol(shared_data: Path) -> None:
    score, rate = score_dev(shared_data / "polnear", demo.ROOT / "extract" / "model", limit=4)
    assert score.articles == 4
    assert rate > 0
    table = score.table()
    assert table.splitlines()[0].split()[:2] == ["role", "exact"]
    cue_f1 = score.roles["cue"].exact()[2]
    content_overlap_f1 = score.roles["content"].overlap()[2]
    assert cue_f1 > 0.4, table
    assert content_overlap_f1 > 0.5, table


def test_fragments_are_trimmed_of_quotes_and_punctuation_before_comparing() -> None:
    text = ' "We will win," he said.'
    assert trim(text, [(1, 16)]) == [(2, 13)]


def test_a_quotation_is_attributed_whole_to_the_subject_of_its_verb() -> None:
    text = (
        "Talks end\n\n"
        "Participants of the video conference also welcomed \u201cthe assurances that issues pertaining to "
        "European interests will be discussed separately, with the full involvement of European partners.\u201d\n"
    )
    result = extract(text, Meta(published=date(2025, 11, 26)))
    quote_start = text.index("\u201c") + 1
    quote_end = text.index("\u201d")
    covering = [a for a in result.attributions if any(s <= quote_start and quote_end <= e for s, e in a["content"])]
    assert covering, result.attributions
    assert any("Participants" in text[s:e] for a in covering for s, e in a["source"])
