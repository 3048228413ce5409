"""PolNeAR: reading its articles, turning its spans into tagger labels, and scoring by its protocol.

The protocol (the data's README, after BBC Citron's metrics): fragments are trimmed of whitespace,
quote marks and ``.,;:!?``; cue exact = identical cue; source / content exact = overlapping cues and
identical trimmed fragment lists; overlap = tokens shared between every predicted and every gold
attribution of the article, over all predicted / all gold tokens of the role.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extract.tagger import Attribution

TRIM = " \t\r\n\u00a0\"'“”‘’«».,;:!?"
WORD = re.compile(r"\w+|[^\w\s]")

Spans = list[tuple[int, int]]


def read_articles(path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Articles of a PolNeAR JSONL file, one dict each, lazily."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit is not None and n >= limit:
                return
            yield json.loads(line)


def gold(article: dict[str, Any]) -> list[tuple[Spans, Spans, Spans]]:
    """(cue, source, content) of each gold attribution that has a cue and a content."""
    out: list[tuple[Spans, Spans, Spans]] = []
    for att in article["attributions"]:
        if att["cue"] and att["content"]:
            out.append(
                (
                    [tuple(s) for s in att["cue"]],
                    [tuple(s) for s in att["source"]],
                    [tuple(s) for s in att["content"]],
                )
            )
    return out


def trim(text: str, spans: Spans) -> Spans:
    """Each fragment without surrounding whitespace, quote marks and sentence punctuation."""
    out: Spans = []
    for s, e in spans:
        while s < e and text[s] in TRIM:
            s += 1
        while e > s and text[e - 1] in TRIM:
            e -= 1
        if s < e:
            out.append((s, e))
    return sorted(out)


def tokens(text: str, spans: Spans) -> set[int]:
    """The word tokens (by start offset) the fragments cover, after trimming."""
    found: set[int] = set()
    for s, e in trim(text, spans):
        found.update(s + m.start() for m in WORD.finditer(text[s:e]))
    return found


def _overlaps(a: Spans, b: Spans) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


@dataclass
class Counts:
    """Running sums over articles for one role."""

    tp_pred: int = 0
    n_pred: int = 0
    tp_gold: int = 0
    n_gold: int = 0
    shared: int = 0
    pred_tokens: int = 0
    gold_tokens: int = 0

    def exact(self) -> tuple[float, float, float]:
        return prf(self.tp_pred, self.n_pred, self.tp_gold, self.n_gold)

    def overlap(self) -> tuple[float, float, float]:
        return prf(self.shared, self.pred_tokens, self.shared, self.gold_tokens)


def prf(tp_p: int, n_p: int, tp_g: int, n_g: int) -> tuple[float, float, float]:
    p = tp_p / n_p if n_p else 0.0
    r = tp_g / n_g if n_g else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@dataclass
class Score:
    """The protocol's table: per role, exact and overlap counts."""

    roles: dict[str, Counts] = field(default_factory=lambda: {r: Counts() for r in ("cue", "source", "content")})
    articles: int = 0

    def add(self, text: str, predicted: list[Attribution], golds: list[tuple[Spans, Spans, Spans]]) -> None:
        self.articles += 1
        pred = [(trim(text, a.cue), trim(text, a.source), trim(text, a.content)) for a in predicted]
        gold_t = [(trim(text, c), trim(text, s), trim(text, x)) for c, s, x in golds]
        for k, role in enumerate(("cue", "source", "content")):
            counts = self.roles[role]

            def match(p: tuple[Spans, Spans, Spans], g: tuple[Spans, Spans, Spans], k: int = k) -> bool:
                if k == 0:
                    return p[0] == g[0]
                return _overlaps(p[0], g[0]) and p[k] == g[k]

            counts.n_pred += len(pred)
            counts.n_gold += len(gold_t)
            counts.tp_pred += sum(any(match(p, g) for g in gold_t) for p in pred)
            counts.tp_gold += sum(any(match(p, g) for p in pred) for g in gold_t)
            pred_tok = [tokens(text, p[k]) for p in pred]
            gold_tok = [tokens(text, g[k]) for g in gold_t]
            counts.pred_tokens += sum(len(t) for t in pred_tok)
            counts.gold_tokens += sum(len(t) for t in gold_tok)
            counts.shared += sum(len(pt & gt) for pt in pred_tok for gt in gold_tok)

    def table(self) -> str:
        lines = [
            f"{'role':8} {'exact P':>8} {'exact R':>8} {'exact F1':>8} {'ovl P':>8} {'ovl R':>8} {'ovl F1':>8}",
        ]
        for role, c in self.roles.items():
            ep, er, ef = c.exact()
            op, orr, of = c.overlap()
            cells = " ".join(f"{100 * v:8.1f}" for v in (ep, er, ef, op, orr, of))
            lines.append(f"{role:8} {cells}")
        return "\n".join(lines)
