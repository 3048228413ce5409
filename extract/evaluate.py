"""`make eval-extract`: PolNeAR dev scored by the data's protocol, speed, and the demo article.

Usage: ``python -m extract.evaluate [--data DIR] [--limit N] [--model DIR] [--demo TXT JSON]``.
Never reads a test split.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from extract import demo
from extract.demo import DEMO_DOCUMENT, DEMO_TEXT
from extract.polnear import Score, gold, read_articles
from extract.tagger import MODEL_DIR, Tagger
from extract.train import DEFAULT_DATA, parsed


def score_dev(
    data: Path, model: Path, limit: int | None, cache: Path | None = None, threshold: float | None = None
) -> tuple[Score, float]:
    """The protocol's counts over dev, and articles per CPU second (parse + tag) in this process."""
    tagger = Tagger(model, threshold)
    articles = list(read_articles(data / "dev.jsonl", limit))
    score = Score()
    cpu = time.process_time()
    predictions = [tagger.attributions(tagger.prepare(doc)) for doc in parsed(articles, cache)]
    cpu = time.process_time() - cpu
    for article, predicted in zip(articles, predictions, strict=True):
        score.add(article["text"], predicted, gold(article))
    return score, len(articles) / cpu if cpu else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threshold", type=float, default=None, help="cue probability threshold")
    args = parser.parse_args()
    cached = args.cache is not None and args.cache.exists()
    score, rate = score_dev(args.data, args.model, args.limit, args.cache, args.threshold)
    print(f"PolNeAR dev: {score.articles} articles")
    print(score.table())
    what = "tag only: parses read from a cache" if cached else "parse + tag"
    print(f"speed: {rate:.1f} articles per CPU second ({what}, one process)")
    if DEMO_TEXT.exists():
        print(f"\ndemo article ({DEMO_TEXT.name}) against {DEMO_DOCUMENT.relative_to(DEMO_DOCUMENT.parents[2])}:")
        print(demo.run(model=Tagger(args.model)).table())
    else:
        print(f"demo article: {DEMO_TEXT} is absent, not compared")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
