"""`make model`: trains the cue and role taggers on PolNeAR train and writes them to extract/model/.

Usage: ``python -m extract.train [--data DIR] [--out DIR]``. Deterministic for a given data file
and spaCy pipeline (L-BFGS from zero weights). Only the train split is read.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pycrfsuite
from spacy.tokens import Doc, DocBin

from extract import parsing
from extract.features import Article, cue_sequence, prepare, role_sequence, role_window
from extract.polnear import read_articles
from extract.tagger import CUE_MODEL, LEXICON, MODEL_DIR, ROLE_MODEL, save_model

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "polnear"
WORD = re.compile(r"\w+")
# L-BFGS (L1 + L2) from zero weights, 120 iterations, where dev scores stop moving. The role
# tagger's heavier L1 and pruning of features seen fewer than three times shrink its model (L1
# zeroes rare features' weights, and zero weights are not stored).
CUE_PARAMS: dict[str, Any] = {"c1": 0.05, "c2": 0.01, "max_iterations": 120, "feature.possible_transitions": True}
ROLE_PARAMS: dict[str, Any] = {**CUE_PARAMS, "c1": 0.3, "feature.minfreq": 3}


def token_set(doc: Doc, spans: list[list[int]]) -> list[int]:
    """Tokens that overlap any of the character spans (whitespace tokens left out)."""
    starts = [t.idx for t in doc]
    found: set[int] = set()
    for a, b in spans:
        k = max(0, bisect_right(starts, a) - 1)
        while k < len(doc) and starts[k] < b:
            tok = doc[k]
            if not tok.is_space and tok.idx + len(tok.text) > a:
                found.add(k)
            k += 1
    return sorted(found)


def cue_labels(doc: Doc, cues: list[list[int]]) -> list[str]:
    labels = ["O"] * len(doc)
    for cue in cues:
        for k, i in enumerate(cue):
            labels[i] = "B" if k == 0 else "I"
    return labels


def examples(art: Article, article: dict[str, Any], only: str | None = None) -> tuple[list[Any], list[Any]]:
    """(cue sequences, role sequences) with labels for one parsed article (``only`` one kind)."""
    doc = art.doc
    cues, roles = [], []
    attributions = []
    for att in article["attributions"]:
        cue = token_set(doc, att["cue"])
        if cue:
            attributions.append((cue, token_set(doc, att["source"]), token_set(doc, att["content"])))
    labels = cue_labels(doc, [a[0] for a in attributions])
    for sent in doc.sents if only != "roles" else ():
        cues.append((cue_sequence(art, sent.start, sent.end), labels[sent.start : sent.end]))
    for cue, source, content in attributions if only != "cue" else ():
        if not content:
            continue
        start, end = role_window(art, cue)
        src, con = set(source), set(content)
        ys = ["S" if i in src else "C" if i in con else "O" for i in range(start, end)]
        roles.append((role_sequence(art, cue, start, end), ys))
    return cues, roles


def parsed(articles: list[dict[str, Any]], cache: Path | None) -> Iterator[Doc]:
    """The articles parsed, or read back from a DocBin cache (a speed-up while changing features)."""
    nlp = parsing.load()
    if cache is not None and cache.exists():
        yield from DocBin().from_disk(cache).get_docs(nlp.vocab)
        return
    docs = DocBin(store_user_data=False)
    for doc in nlp.pipe(a["text"] for a in articles):
        if cache is not None:
            docs.add(doc)
        yield doc
    if cache is not None:
        docs.to_disk(cache)


def cue_words(articles: list[dict[str, Any]], minimum: int = 3) -> list[str]:
    """Words that are part of a cue at least ``minimum`` times in the training data."""
    counts: Counter[str] = Counter()
    for article in articles:
        for att in article["attributions"]:
            counts.update(w.lower() for w in WORD.findall(att["cue_text"]))
    return sorted(w for w, n in counts.items() if n >= minimum)


def train(data: Path, out: Path, limit: int | None = None, cache: Path | None = None, only: str | None = None) -> None:
    articles = list(read_articles(data / "train.jsonl", limit))
    out.mkdir(parents=True, exist_ok=True)
    words = cue_words(articles)
    (out / LEXICON).write_text("\n".join(words) + "\n", encoding="utf-8")
    lexicon = frozenset(words)
    cue_trainer = pycrfsuite.Trainer(verbose=False)
    role_trainer = pycrfsuite.Trainer(verbose=False)
    started = time.monotonic()
    for n, (doc, article) in enumerate(zip(parsed(articles, cache), articles, strict=True)):
        cues, roles = examples(prepare(doc, lexicon), article, only)
        for xs, ys in cues:
            cue_trainer.append(xs, ys)
        for xs, ys in roles:
            role_trainer.append(xs, ys)
        if n % 100 == 0:
            print(f"parsed {n}/{len(articles)} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    for name, trainer in ((CUE_MODEL, cue_trainer), (ROLE_MODEL, role_trainer)):
        if only and not name.startswith(only):
            continue
        trainer.set_params(CUE_PARAMS if name == CUE_MODEL else ROLE_PARAMS)
        with tempfile.TemporaryDirectory() as folder:
            plain = Path(folder) / "model.crfsuite"
            trainer.train(str(plain))
            save_model(plain, out / name)
        print(f"trained {name} ({time.monotonic() - started:.0f} s)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N articles only")
    parser.add_argument("--cache", type=Path, default=None, help="keep the parses in this DocBin file")
    parser.add_argument("--only", choices=["cue", "roles"], default=None, help="train one of the two taggers")
    args = parser.parse_args()
    train(args.data, args.out, args.limit, args.cache, args.only)


if __name__ == "__main__":
    main()
