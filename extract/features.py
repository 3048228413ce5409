"""Token features for the two taggers: where the cues are, and, for one cue, its source and content.

Both taggers are linear-chain CRFs over spaCy's parse. Features are plain strings (``"lemma=say"``);
what a token is (word, lemma, tag, dependency, quotation state) is computed once per article, and
what a token is *to a given cue* (before or after it, under which of its dependents) once per cue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Token

OPENING = {"“", "‘", "«", "„"}
CLOSING = {"”", "’", "»"}
STRAIGHT = {'"', "''", "``"}
# Attribution verbs that carry their content in a clause; a hint the CRF weighs, not a rule.
SPEECH_LEMMAS = frozenset(
    "say tell add note write claim argue state explain report announce insist warn suggest acknowledge "
    "admit declare confirm deny reply respond ask recall believe think know agree accuse call describe "
    "predict promise pledge urge vow contend assert maintain reveal estimate show find indicate "
    "complain criticize praise blast tweet post read according".split()
)


CLAUSE_DEPS = frozenset({"ccomp", "nsubj", "nsubjpass", "dobj", "xcomp", "parataxis", "prep", "aux", "neg", "advcl"})


@dataclass(frozen=True)
class Article:
    """A parsed article with what every tagger call needs, computed once as plain lists."""

    doc: Doc
    static: list[list[str]]  # per-token features that do not depend on a cue
    in_quote: list[bool]
    paragraph: list[int]  # paragraph number of each token
    lower: list[str]
    lemma: list[str]
    tag: list[str]
    dep: list[str]
    head: list[int]
    sent_start: list[int]
    sent_end: list[int]
    shape: list[str]


def quotation_state(doc: Doc) -> list[bool]:
    """Whether each token lies inside quotation marks (the marks themselves count as inside).

    Straight double quotes toggle; typographic ones open and close. A paragraph break closes an
    unbalanced quote, the way news copy reopens a quote on each paragraph of a long citation.
    """
    inside = False
    state: list[bool] = []
    for tok in doc:
        text = tok.text
        if "\n" in text:
            inside = False
            state.append(False)
            continue
        if text == "“" or text == "«" or text == "„":
            inside = True
            state.append(True)
        elif text == "”" or text == "»":
            state.append(True)
            inside = False
        elif text in STRAIGHT:
            state.append(True)
            inside = not inside
        else:
            state.append(inside)
    return state


def paragraph_numbers(doc: Doc) -> list[int]:
    """A paragraph number per token: blank lines (or any line break) start a new paragraph."""
    number = 0
    out: list[int] = []
    for tok in doc:
        if "\n" in tok.text or "\n" in tok.whitespace_:
            out.append(number)
            number += 1
        else:
            out.append(number)
    return out


def _shape(tok: Token) -> str:
    if tok.is_title:
        return "Xx"
    if tok.is_upper:
        return "XX"
    if tok.is_lower:
        return "xx"
    if tok.is_digit:
        return "d"
    return "o"


def _static(tok: Token, in_quote: bool, lexicon: frozenset[str]) -> list[str]:
    lemma = tok.lemma_.lower()
    head = tok.head
    children = list(tok.children)
    deps = {c.dep_ for c in children}
    feats = [
        "b",
        "w=" + tok.lower_,
        "l=" + lemma,
        "t=" + tok.tag_,
        "d=" + tok.dep_,
        "s=" + _shape(tok),
        "hl=" + head.lemma_.lower(),
        "ht=" + head.tag_,
        "td=" + tok.tag_ + "|" + tok.dep_,
        "q=" + str(in_quote),
    ]
    if lemma in SPEECH_LEMMAS:
        feats.append("speech")
    if head.lemma_.lower() in SPEECH_LEMMAS:
        feats.append("hspeech")
    if tok.lower_ in lexicon:
        feats.append("lex")
        feats.append("lex|t=" + tok.tag_)
    if head.lower_ in lexicon:
        feats.append("hlex|d=" + tok.dep_)
    feats.append("hd=" + head.dep_)
    feats.append("cd=" + ",".join(sorted(deps & CLAUSE_DEPS)))
    for child in children:
        if child.dep_ in ("nsubj", "nsubjpass"):
            feats.append("subj=" + child.tag_)
        elif child.dep_ in ("ccomp", "parataxis", "xcomp") and any(
            g.dep_ == "mark" and g.lower_ == "that" for g in child.children
        ):
            feats.append("that-comp")
    for dep in ("ccomp", "nsubj", "nsubjpass", "dobj", "xcomp", "prep", "parataxis", "pobj"):
        if dep in deps:
            feats.append("has=" + dep)
    if tok.ent_type_:
        feats.append("e=" + tok.ent_type_)
    return feats


def prepare(doc: Doc, lexicon: frozenset[str] = frozenset()) -> Article:
    """Computes the cue-independent features of every token once (``lexicon``: words seen as cues)."""
    in_quote = quotation_state(doc)
    sent_start = [0] * len(doc)
    sent_end = [0] * len(doc)
    for sent in doc.sents:
        for i in range(sent.start, sent.end):
            sent_start[i] = sent.start
            sent_end[i] = sent.end
    toks = list(doc)
    return Article(
        doc=doc,
        static=[_static(tok, in_quote[tok.i], lexicon) for tok in toks],
        in_quote=in_quote,
        paragraph=paragraph_numbers(doc),
        lower=[t.lower_ for t in toks],
        lemma=[t.lemma_.lower() for t in toks],
        tag=[t.tag_ for t in toks],
        dep=[t.dep_ for t in toks],
        head=[t.head.i for t in toks],
        sent_start=sent_start,
        sent_end=sent_end,
        shape=[_shape(t) for t in toks],
    )


def _neighbours(art: Article, i: int, start: int, end: int) -> list[str]:
    lower, tag, lemma, in_quote = art.lower, art.tag, art.lemma, art.in_quote
    feats: list[str] = []
    for off in (-2, -1, 1, 2):
        j = i + off
        if start <= j < end:
            feats.append(f"{off}w={lower[j]}")
            feats.append(f"{off}t={tag[j]}")
            if off in (-1, 1):
                feats.append(f"{off}l={lemma[j]}")
                feats.append(f"{off}q={in_quote[j]}")
        else:
            feats.append(f"{off}edge")
    if start <= i - 1:
        feats.append("-1|0=" + lower[i - 1] + "|" + lower[i])
    if i + 1 < end:
        feats.append("0|1=" + lower[i] + "|" + lower[i + 1])
    return feats


def cue_sequence(art: Article, start: int, end: int) -> list[list[str]]:
    """Features of tokens start..end (a sentence) for the cue tagger."""
    return [art.static[i] + _neighbours(art, i, start, end) for i in range(start, end)]


def _path_label(head: list[int], dep: list[str], i: int, cue: set[int], cue_ancestors: set[int]) -> str:
    """How a token hangs off the cue: the dependency by which its branch attaches to the cue."""
    node = i
    last_dep = "self"
    for _ in range(40):
        if node in cue:
            return "under:" + last_dep
        last_dep = dep[node]
        if head[node] == node:
            break
        node = head[node]
    return "above" if i in cue_ancestors else "apart"


def _ancestors(head: list[int], i: int) -> set[int]:
    found: set[int] = set()
    while head[i] != i and i not in found and len(found) < 60:
        i = head[i]
        found.add(i)
    return found


def _bucket(n: int) -> str:
    a = abs(n)
    b = "0" if a == 0 else "1" if a == 1 else "2" if a == 2 else "3-5" if a <= 5 else "6-10" if a <= 10 else "far"
    return ("-" if n < 0 else "+") + b


def role_window(art: Article, cue: Sequence[int], limit: int = 160) -> tuple[int, int]:
    """The tokens a cue's source and content are looked for in: its paragraph, or its sentence ±1."""
    para = art.paragraph[cue[0]]
    start = cue[0]
    while start > 0 and art.paragraph[start - 1] == para:
        start -= 1
    end = cue[-1] + 1
    n = len(art.paragraph)
    while end < n and art.paragraph[end] == para:
        end += 1
    if end - start <= limit:
        return start, end
    s, e = art.sent_start[cue[0]], art.sent_end[cue[-1]]
    if s > start:
        s = art.sent_start[s - 1]
    if e < end:
        e = art.sent_end[e]
    return max(s, start), min(e, end)


def role_sequence(art: Article, cue: Sequence[int], start: int, end: int) -> list[list[str]]:
    """Features of tokens start..end relative to one cue, for the source/content tagger."""
    lower, lemma, tag, dep, head, shape, in_quote = (
        art.lower,
        art.lemma,
        art.tag,
        art.dep,
        art.head,
        art.shape,
        art.in_quote,
    )
    cue_set = set(cue)
    first, last = cue[0], cue[-1]
    cue_lemma = "_".join(lemma[i] for i in cue)
    cue_tag = tag[first]
    cue_sent = art.sent_start[first]
    cue_ancestors = _ancestors(head, first) - cue_set
    seq: list[list[str]] = []
    for i in range(start, end):
        if i in cue_set:
            rel, dist = "cue", 0
        elif i < first:
            rel, dist = "before", i - first
        else:
            rel, dist = "after", i - last
        path = _path_label(head, dep, i, cue_set, cue_ancestors)
        same = "T" if art.sent_start[i] == cue_sent else "F"
        q = "T" if in_quote[i] else "F"
        feats = [
            "b",
            "w=" + lower[i],
            "l=" + lemma[i],
            "t=" + tag[i],
            "d=" + dep[i],
            "s=" + shape[i],
            "q=" + q,
            "rel=" + rel,
            "dist=" + _bucket(dist),
            "path=" + path,
            "ss=" + same,
            "rel|path=" + rel + "|" + path,
            "rel|q=" + rel + "|" + q,
            "rel|ss|path=" + rel + "|" + same + "|" + path,
            "cue=" + cue_lemma,
            "cue|rel=" + cue_lemma + "|" + rel,
            "cue|path=" + cue_lemma + "|" + path,
            "cuet|rel|t=" + cue_tag + "|" + rel + "|" + tag[i],
        ]
        for off in (-1, 1):
            j = i + off
            if start <= j < end:
                feats.append(f"{off}w={lower[j]}")
                feats.append(f"{off}t={tag[j]}")
                feats.append(f"{off}q={in_quote[j]}")
            else:
                feats.append(f"{off}edge")
        seq.append(feats)
    return seq
