"""The demo article extracted and compared with its hand-normalised document in db/demo."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extract.document import Extraction, Meta, extract
from extract.tagger import Tagger

ROOT = Path(__file__).resolve().parent.parent
DEMO_TEXT = ROOT.parent / "shared" / "data" / "seed-article-tass-2025-11-26.txt"
DEMO_DOCUMENT = ROOT / "db" / "demo" / "tass-2025-11-26.json"
WORD = re.compile(r"\w+")
SPEAKING = ("speaker", "co_signatory")


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def overlap(a: str, b: str) -> float:
    """Shared words over the longer of the two: 1 only when both say the same."""
    wa, wb = words(a), words(b)
    return len(wa & wb) / max(len(wa), len(wb)) if wa and wb else 0.0


def speakers(claim: dict[str, Any]) -> set[str]:
    return {s["entity"]["name"] for s in claim["speakers"] if s["role"] in SPEAKING}


@dataclass
class Comparison:
    """Each hand-normalised claim with the extracted claim closest to it, and the source's facts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def found(self) -> int:
        return sum(r["content"] >= 0.5 for r in self.rows)

    @property
    def found_with_speakers(self) -> int:
        return sum(r["content"] >= 0.5 and r["speakers"] for r in self.rows)

    def table(self) -> str:
        lines = [f"{'#':>2} {'content':>7} {'speakers':>8} {'kind':>5} {'said at':>8}  hand-normalised claim"]
        for n, r in enumerate(self.rows):
            lines.append(
                f"{n:>2} {100 * r['content']:6.0f}% {'yes' if r['speakers'] else 'no':>8} "
                f"{'yes' if r['kind'] else 'no':>5} {'yes' if r['said_at'] else 'no':>8}  {r['text'][:60]}"
            )
        lines.append(f"found (content overlap >= 50 %): {self.found} of {len(self.rows)}")
        lines.append(f"found with their speakers: {self.found_with_speakers} of {len(self.rows)}")
        for key, (want, got) in self.source.items():
            lines.append(f"{key}: expected {want!r}, extracted {got!r} -> {'ok' if want == got else 'differs'}")
        return "\n".join(lines)


def compare(extraction: Extraction, hand: dict[str, Any], place: str = "Berlin") -> Comparison:
    out = Comparison()
    claims = extraction.document["claims"]
    for want in hand["claims"]:
        best: dict[str, Any] = max(claims, key=lambda c: overlap(c["content"], want["content"]), default={})
        out.rows.append(
            {
                "text": want["content"],
                "content": overlap(best["content"], want["content"]) if best else 0.0,
                "speakers": bool(best) and speakers(want) <= speakers(best),
                "kind": bool(best) and best["kind"] == want["kind"],
                "said_at": bool(best) and best.get("said_at") == want.get("said_at"),
            }
        )
    source = extraction.document["source"]
    out.source["publisher"] = (hand["source"]["publisher"]["name"], source.get("publisher", {}).get("name"))
    out.source["reported"] = (hand["source"]["published_at"], source.get("published_at"))
    out.source["dateline place"] = (place, (extraction.dateline or {}).get("place"))
    return out


def run(text_path: Path = DEMO_TEXT, document_path: Path = DEMO_DOCUMENT, model: Tagger | None = None) -> Comparison:
    """Extracts the demo article as `claims extract FILE` would and compares it with db/demo."""
    hand = json.loads(document_path.read_text(encoding="utf-8"))
    extraction = extract(text_path.read_text(encoding="utf-8"), Meta(hints=(text_path.name,)), model)
    return compare(extraction, hand)
