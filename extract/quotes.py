"""Quotations the taggers left unattributed: a quoted passage of several words is someone's words.

A quote (its marks included) that no attribution's content covers is attributed to the verb that
governs it and that verb's subject ("Participants also welcomed “the assurances that …”"). Short
quoted runs are left alone: two words in quotation marks are more often a term than a quote.
"""

from __future__ import annotations

from spacy.tokens import Token

from extract.features import Article

MIN_WORDS = 4
CONFIDENCE = 0.5
SUBJECTS = ("nsubj", "nsubjpass")
PERSONAL = frozenset({"he", "she", "they", "we", "i"})


def quoted_runs(art: Article) -> list[list[int]]:
    """Runs of consecutive tokens inside quotation marks, one paragraph at most each."""
    out: list[list[int]] = []
    for i, inside in enumerate(art.in_quote):
        if not inside:
            continue
        if out and out[-1][-1] == i - 1 and art.paragraph[i] == art.paragraph[i - 1]:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _governor(art: Article, run: list[int]) -> Token | None:
    """The verb outside the quote that the quote hangs from, if any."""
    doc = art.doc
    inside = set(run)
    heads = [doc[i] for i in run if doc[i].head.i not in inside and not doc[i].is_punct]
    if not heads:
        return None
    node = heads[0].head
    for _ in range(6):
        if node.i in inside:
            return None
        if node.pos_ == "VERB":
            return node
        if node.head.i == node.i:
            return None
        node = node.head
    return None


def _subject(verb: Token) -> Token | None:
    """The verb's subject (or, for "went on to say", its governor's): a name or a personal pronoun."""
    for candidate in (verb, verb.head):
        for child in candidate.children:
            if child.dep_ in SUBJECTS and (child.pos_ != "PRON" or child.lower_ in PERSONAL):
                return child
        if candidate.dep_ not in ("xcomp", "conj", "advcl"):
            break
    return None


def whole_quotes(art: Article, content: list[int]) -> list[int]:
    """Content tokens with every quotation they touch taken whole: a quote is never cut inside its marks."""
    found = set(content)
    for run in quoted_runs(art):
        if found.intersection(run) and len(run) < 400:
            found.update(run)
    return sorted(found)


def unattributed(art: Article, covered: set[int]) -> list[tuple[list[int], list[int], list[int]]]:
    """(cue, source, content) token lists for the quotes no attribution covers."""
    out = []
    for run in quoted_runs(art):
        words = [i for i in run if not art.doc[i].is_punct]
        if len(words) < MIN_WORDS or covered.intersection(run):
            continue
        verb = _governor(art, run)
        subject = _subject(verb) if verb is not None else None
        if verb is None or subject is None:
            continue
        source = list(range(subject.left_edge.i, subject.right_edge.i + 1))
        if set(source) & set(run):
            continue
        out.append(([verb.i], source, run))
    return out
