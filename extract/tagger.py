"""The trained attribution finder: one CRF marks cues, a second marks each cue's source and content.

The models are python-crfsuite files under ``extract/model/`` (``make model`` rebuilds them from
PolNeAR). Offsets in the answers are Python string indices into the article, end exclusive.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pycrfsuite
from spacy.tokens import Doc

from extract import quotes
from extract.features import Article, cue_sequence, prepare, role_sequence, role_window

MODEL_DIR = Path(__file__).parent / "model"
CUE_MODEL = "cue.crfsuite.gz"
ROLE_MODEL = "roles.crfsuite.gz"
LEXICON = "cue-words.txt"
VERSION = "1"
CUE_THRESHOLD = 0.5

Spans = list[tuple[int, int]]


@dataclass
class Attribution:
    """One attribution: the cue, the source (possibly none) and the content fragments, as character spans."""

    cue: Spans
    source: Spans
    content: Spans
    confidence: float
    cue_tokens: list[int] = field(default_factory=list)
    source_tokens: list[int] = field(default_factory=list)
    content_tokens: list[int] = field(default_factory=list)


def runs(indices: Sequence[int]) -> list[list[int]]:
    """Consecutive runs of sorted token indices: [1, 2, 5] -> [[1, 2], [5]]."""
    out: list[list[int]] = []
    for i in indices:
        if out and out[-1][-1] == i - 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def char_spans(art: Article, token_runs: list[list[int]]) -> Spans:
    doc = art.doc
    return [(doc[r[0]].idx, doc[r[-1]].idx + len(doc[r[-1]].text)) for r in token_runs]


def cue_runs(labels: Sequence[str], offset: int) -> list[list[int]]:
    """Token runs labelled B-CUE / I-CUE (a B always starts a new cue)."""
    found: list[list[int]] = []
    for k, label in enumerate(labels):
        if label == "B":
            found.append([offset + k])
        elif label == "I" and found and found[-1][-1] == offset + k - 1:
            found[-1].append(offset + k)
        elif label == "I":
            found.append([offset + k])
    return found


def load_model(path: Path) -> tuple[pycrfsuite.Tagger, bytes]:
    """A CRF model kept gzip-compressed on disk (a third of its size), opened from memory.

    CRFsuite reads the model from the buffer as it tags without holding on to it: the caller keeps
    the bytes for as long as it uses the tagger.
    """
    data = gzip.decompress(path.read_bytes())
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(data)
    return tagger, data


def save_model(plain: Path, path: Path) -> None:
    """Compresses the model CRFsuite wrote; mtime 0 so that the same model gives the same bytes."""
    path.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=9, mtime=0))


class Tagger:
    """Loads the two CRF models once; `attributions` is safe to call for many articles in a row.

    A token is a cue when the tagger's marginal probability that it is one passes ``threshold``:
    below one half it trades precision for recall (the CRF's single best path is cautious).
    """

    def __init__(self, directory: Path = MODEL_DIR, threshold: float | None = None) -> None:
        self.threshold = CUE_THRESHOLD if threshold is None else threshold
        lexicon = directory / LEXICON
        self.lexicon = frozenset(lexicon.read_text(encoding="utf-8").split()) if lexicon.exists() else frozenset()
        # The code's version and the models' digest: a retrained model is another extractor version.
        digest = hashlib.sha256()
        for name in (CUE_MODEL, ROLE_MODEL, LEXICON):
            if (directory / name).exists():
                digest.update((directory / name).read_bytes())
        self.version = f"{VERSION}+{digest.hexdigest()[:12]}"
        self.cues, self._cue_bytes = load_model(directory / CUE_MODEL)
        self.roles, self._role_bytes = load_model(directory / ROLE_MODEL)

    def prepare(self, doc: Doc) -> Article:
        """The article's per-token features, with this model's cue-word list."""
        return prepare(doc, self.lexicon)

    def find_cues(self, art: Article) -> list[tuple[list[int], float]]:
        """Cue token runs with the tagger's mean marginal probability for them."""
        found: list[tuple[list[int], float]] = []
        tagger = self.cues
        for sent in art.doc.sents:
            tagger.set(cue_sequence(art, sent.start, sent.end))
            labels: list[str] = []
            probs: list[float] = []
            for k in range(sent.end - sent.start):
                b, i = tagger.marginal("B", k), tagger.marginal("I", k)
                if b + i < self.threshold:
                    labels.append("O")
                else:
                    labels.append("I" if i > b and labels and labels[-1] != "O" else "B")
                probs.append(b + i)
            for run in cue_runs(labels, sent.start):
                p = [probs[i - sent.start] for i in run]
                found.append((run, sum(p) / len(p)))
        return found

    def roles_for(self, art: Article, cue: list[int]) -> tuple[list[int], list[int], float]:
        """Source and content tokens for one cue, and the probability of that labelling."""
        start, end = role_window(art, cue)
        labels = self.roles.tag(role_sequence(art, cue, start, end))
        prob = self.roles.probability(labels)
        source = [start + k for k, label in enumerate(labels) if label == "S"]
        content = [start + k for k, label in enumerate(labels) if label == "C"]
        return source, content, prob

    def attributions(self, art: Article) -> list[Attribution]:
        out: list[Attribution] = []
        for cue, cue_prob in self.find_cues(art):
            source, content, role_prob = self.roles_for(art, cue)
            if not content:
                continue
            content = [i for i in quotes.whole_quotes(art, content) if i not in cue and i not in source]
            out.append(
                Attribution(
                    cue=char_spans(art, [cue]),
                    source=char_spans(art, runs(source)),
                    content=char_spans(art, merge_content(art, runs(content))),
                    confidence=round(cue_prob * (0.5 + 0.5 * role_prob), 3),
                    cue_tokens=cue,
                    source_tokens=source,
                    content_tokens=content,
                )
            )
        covered = {i for a in out for i in a.content_tokens}
        for cue, source, content in quotes.unattributed(art, covered):
            out.append(
                Attribution(
                    cue=char_spans(art, [cue]),
                    source=char_spans(art, runs(source)),
                    content=char_spans(art, [content]),
                    confidence=quotes.CONFIDENCE,
                    cue_tokens=cue,
                    source_tokens=source,
                    content_tokens=content,
                )
            )
        return out


def merge_content(art: Article, token_runs: list[list[int]]) -> list[list[int]]:
    """Joins content runs separated only by punctuation: one fragment per side of the cue."""
    doc = art.doc
    merged: list[list[int]] = []
    for run in token_runs:
        if merged:
            gap = range(merged[-1][-1] + 1, run[0])
            if all(doc[i].is_punct or doc[i].is_space for i in gap):
                merged[-1].extend([*gap, *run])
                continue
        merged.append(list(run))
    return merged
