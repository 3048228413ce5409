"""Who a source span names: people by name, surname, title or pronoun; groups; documents by their authors.

An article is read twice: first every named person with the title printed before the name
("German Chancellor Friedrich Merz") and every document's signatories ("the document on behalf of
A, B and C") are collected; then each attribution's source is resolved against that register, so a
later "the German chancellor", "Merz" or "the statement" finds who was named anywhere in the article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span, Token

TITLE_WORDS = frozenset(
    "president chancellor minister prime secretary state senator sen. governor gov. spokesman spokeswoman "
    "spokesperson leader chairman chairwoman chair ceo director ambassador general gen. mayor king queen pope "
    "judge justice representative rep. mr. mrs. ms. dr. foreign defense defence finance interior deputy vice "
    "former acting head chief envoy commissioner candidate nominee speaker sheriff attorney adviser advisor "
    "aide official analyst professor economist".split()
)
ORGANIZATION_WORDS = frozenset(
    "party ministry committee council agency department house commission office government campaign "
    "institute university company inc corp corporation bank times post news network administration "
    "court parliament congress senate police army union federation association foundation organization "
    "organisation service services kremlin pentagon".split()
)
GROUP_LEMMAS = frozenset(
    "coalition alliance group bloc nation leader participant chair co-chair cochair member country ally".split()
)
DOCUMENT_WORDS = frozenset(
    "statement document declaration communique communiqué letter report text release memo resolution".split()
)
PLURAL_PRONOUNS = frozenset({"they", "them", "we"})
SINGULAR_PRONOUNS = frozenset({"he", "she", "him", "her"})


@dataclass(frozen=True)
class Entity:
    """A resolved speaker: a name the store can find again, its kind, and the printed forms."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()

    def ref(self) -> dict[str, object]:
        ref: dict[str, object] = {"name": self.name, "kind": self.kind}
        aliases = [a for a in dict.fromkeys(self.aliases) if a != self.name]
        if aliases:
            ref["aliases"] = aliases
        return ref


@dataclass
class Speakers:
    """The speakers of one claim with their roles (speaker, co_signatory, on_behalf_of)."""

    entities: list[tuple[Entity, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.entities)


def conjuncts(tok: Token) -> list[Token]:
    """The token and everything coordinated with it ("A, B and C")."""
    out = [tok]
    for child in tok.children:
        if child.dep_ == "conj":
            out.extend(conjuncts(child))
    return out


def phrase(tok: Token) -> list[Token]:
    """The noun phrase a conjunct heads, without its own coordinated siblings or punctuation."""
    skip: set[int] = set()
    for child in tok.children:
        if child.dep_ in ("conj", "cc", "punct", "appos", "relcl", "acl"):
            skip.update(t.i for t in child.subtree)
    toks = [t for t in tok.subtree if t.i not in skip]
    while toks and (toks[0].dep_ in ("det", "poss", "case") or toks[0].is_punct):
        toks = toks[1:]
    while toks and (toks[-1].is_punct or toks[-1].dep_ == "case"):
        toks = toks[:-1]
    return toks


def split_title(toks: list[Token]) -> tuple[str, str]:
    """("German Chancellor", "Friedrich Merz") from "German Chancellor Friedrich Merz"."""
    k = len(toks)
    while k > 0:
        t = toks[k - 1]
        if not (t.is_title or t.is_upper) or t.lower_ in TITLE_WORDS or t.is_punct or t.lower_ in ("of", "'s"):
            break
        k -= 1
    title = " ".join(t.text for t in toks[:k]).strip()
    name = " ".join(t.text for t in toks[k:]).strip()
    return title, name


def _kind(name: str) -> str:
    words = {w.lower().strip("'’") for w in name.split()}
    if words & {"coalition", "alliance", "group", "bloc"}:
        return "group"
    if words & ORGANIZATION_WORDS:
        return "organization"
    return "person"


@dataclass
class Register:
    """People and documents named anywhere in one article."""

    by_surname: dict[str, Entity] = field(default_factory=dict)
    by_title: dict[str, Entity] = field(default_factory=dict)
    authors: list[Entity] = field(default_factory=list)

    def person(self, title: str, name: str) -> Entity:
        """The entity for a printed name, merged with the same person's other names in the article.

        "Merz" and "Friedrich Merz" are one person (the longer name wins); a titled name wins over an
        untitled one that shares its surname, since headlines run names together ("Merz, Macron").
        """
        kind = _kind(name)
        surname = name.split()[-1].lower()
        titled = f"{title} {name}" if title and kind == "person" else None
        known = self.by_surname.get(surname) if kind == "person" else None
        entity = Entity(name, kind, (titled,) if titled else ())
        if known is not None:
            words, known_words = name.lower().split(), known.name.lower().split()
            shorter = known_words[-len(words) :] == words  # "Merz" after "Friedrich Merz"
            extra = (titled,) if titled else ()
            if shorter or (not title and known.aliases):  # a titled name outranks an untitled one
                entity = Entity(known.name, known.kind, (*known.aliases, *extra))
            else:
                entity = Entity(name, kind, (*known.aliases, *extra))
        if kind == "person":
            self.by_surname[surname] = entity
            if title:
                self.by_title[title.lower()] = entity
        return entity

    def current(self, entity: Entity) -> Entity:
        """The fullest form of a person the register holds (names found later replace earlier ones)."""
        if entity.kind != "person":
            return entity
        return self.by_surname.get(entity.name.split()[-1].lower(), entity)

    def by_description(self, words: list[str]) -> Entity | None:
        """ "the German chancellor" -> the one person printed with a title holding those words."""
        wanted = {w.lower() for w in words if w.lower() not in ("the", "a", "an", "'s")}
        if not wanted:
            return None
        found = {e.name: e for title, e in self.by_title.items() if wanted <= set(title.split())}
        return next(iter(found.values())) if len(found) == 1 else None


def named(toks: list[Token]) -> bool:
    return any(t.tag_ in ("NNP", "NNPS") for t in toks)


def collect(doc: Doc) -> Register:
    """First pass: every titled or full name, and the signatories of documents."""
    reg = Register()
    for tok in doc:
        if tok.tag_ in ("NNP", "NNPS") and tok.dep_ != "compound":
            toks = phrase(tok)
            if toks and all(t.tag_ in ("NNP", "NNPS", "JJ", "IN", "HYPH") for t in toks) and named(toks):
                title, name = split_title(toks)
                if name and (title or len(name.split()) >= 2):
                    reg.person(title, name)
        if tok.lower_ == "behalf" or (tok.lower_ == "by" and tok.head.lemma_.lower() in DOCUMENT_WORDS | {"sign"}):
            target = tok
            if tok.lower_ == "behalf":
                target = next((c for c in tok.children if c.lower_ == "of"), tok)
            pobj = next((c for c in target.children if c.dep_ == "pobj"), None)
            if pobj is not None:
                found = [_entity(reg, phrase(c)) for c in conjuncts(pobj)]
                authors = [e for e in found if e is not None and e.kind == "person"]
                if len(authors) >= 2 or (authors and not reg.authors):
                    reg.authors = authors
    reg.authors = [reg.current(a) for a in reg.authors]
    reg.by_title = {t: reg.current(e) for t, e in reg.by_title.items()}
    return reg


def _entity(reg: Register, toks: list[Token]) -> Entity | None:
    if not toks or not named(toks):
        return None
    title, name = split_title(toks)
    if not name:
        return reg.by_description([t.text for t in toks])
    if len(toks) == 1 and toks[0].lower_ in reg.by_surname:
        return reg.by_surname[toks[0].lower_]
    return reg.person(title, name)


def source_head(span: Span) -> Token:
    """The span's head: its rightmost token attached outside it ("co - chairs" heads on "chairs")."""
    outside = [t for t in span if not t.is_punct and (not span.start <= t.head.i < span.end or t.head.i == t.i)]
    return outside[-1] if outside else span.root


class Resolver:
    """Second pass: resolves source spans in reading order, remembering the last speakers for pronouns."""

    def __init__(self, doc: Doc) -> None:
        self.reg = collect(doc)
        self.last_person: Entity | None = None
        self.last_group: Speakers | None = None

    def resolve(self, span: Span | None) -> Speakers:
        if span is None or not len(span):
            return Speakers()
        root = source_head(span)
        heads = [t for t in conjuncts(root) if span.start <= t.i < span.end]
        out = Speakers()
        on_behalf: list[Entity] = []
        for head in heads:
            self._one(head, out, on_behalf)
        people = [e for e, _ in out.entities]
        if len(people) > 1:
            out.entities = [(e, "co_signatory") for e in people]
        out.entities += [(g, "on_behalf_of") for g in on_behalf if g not in people]
        if len(out.entities) == 1 and out.entities[0][0].kind == "person":
            self.last_person = out.entities[0][0]
        if len(out.entities) > 1:
            self.last_group = out
        return out

    def _one(self, head: Token, out: Speakers, on_behalf: list[Entity]) -> None:
        low = head.lower_
        if low in SINGULAR_PRONOUNS:
            if self.last_person:
                out.entities.append((self.last_person, "speaker"))
            return
        if low in PLURAL_PRONOUNS:
            if self.last_group:
                out.entities.extend(self.last_group.entities)
            return
        toks = phrase(head)
        lemma = head.lemma_.lower()
        group = self._group(toks)
        if lemma in DOCUMENT_WORDS or (lemma in GROUP_LEMMAS and self.reg.authors):
            out.entities.extend((a, "speaker") for a in self.reg.authors)
            if group:
                on_behalf.append(group)
            return
        if group is not None:
            if self.reg.authors:
                out.entities.extend((a, "speaker") for a in self.reg.authors)
                on_behalf.append(group)
            else:
                out.entities.append((group, "speaker"))
            return
        entity = _entity(self.reg, toks)
        if entity is None and toks:
            entity = self.reg.by_description([t.text for t in toks])
        if entity is not None:
            out.entities.append((self.reg.current(entity), "speaker"))

    def _group(self, toks: list[Token]) -> Entity | None:
        """A named group ("the ‘Coalition of the Willing’"), by its printed name without quotes."""
        if not toks or not any(t.lower_ in GROUP_LEMMAS or t.lemma_.lower() in GROUP_LEMMAS for t in toks):
            return None
        start = next((k for k, t in enumerate(toks) if t.tag_ in ("NNP", "NNPS") or t.is_title), None)
        if start is None:
            return None
        doc = toks[0].doc
        text = doc[toks[start].i : toks[-1].i + 1].text.strip(" '‘’\"“”")
        name = re.sub(r"[‘’“”\"]", "", text).strip()
        return Entity(name, "group") if _kind(name) == "group" and name else None
