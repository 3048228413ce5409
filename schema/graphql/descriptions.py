"""Descriptions for the GraphQL explorer, for every type, field and argument not described inline.

A front-end developer builds screens from GraphiQL's docs panel alone, so nothing may be left
blank: `describe` fills the built schema from `DESCRIPTIONS` (keys ``Type``, ``Type.field``,
``Type.field(argument)``) without overriding what the definitions say themselves, and
``tests/test_graphql_docs.py`` fails on anything still undescribed.
"""

from __future__ import annotations

import strawberry
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema.graphql.core import core_schema

FIRST = "Page size from the start (1–100, default 20)."
AFTER = "Cursor of the edge to continue after (`pageInfo.endCursor`)."
LAST = "Page size from the end (1–100), with `before` to page backwards."
BEFORE = "Cursor of the edge to continue before (`pageInfo.startCursor`)."
PAGING = {"first": FIRST, "after": AFTER, "last": LAST, "before": BEFORE}
ID = "Global id (Relay): opaque, stable, usable with `node(id:)`."
DATABASE_ID = "The numeric id the REST API uses for the same object (`/v1/…/{id}`)."
USER_ERRORS = "Problems with the input, each naming its field; empty when the mutation succeeded."


def _paged(prefix: str) -> dict[str, str]:
    return {f"{prefix}({name})": text for name, text in PAGING.items()}


DESCRIPTIONS: dict[str, str] = {
    "Node.id": ID,
    # Claim
    "Claim.id": ID,
    "Claim.databaseId": DATABASE_ID,
    "Claim.content": "What was said, as one normalised text (the printed wording is in `appearances.quote`).",
    "Claim.kind": "Direct quote, partial quote or paraphrase.",
    "Claim.language": "BCP 47 language tag of the content, e.g. `en`.",
    "Claim.saidAt": "When it was said (ISO 8601 in UTC); read with `saidAtPrecision`.",
    "Claim.saidAtPrecision": "How precisely `saidAt` is known: a `DAY` claim is stored at midnight UTC.",
    "Claim.speakers": "Who said it, in order of credit, each with a role.",
    "Claim.appearances": "Every printing of the claim: the source, the exact quote and where it stands.",
    "Claim.topics": "Topics the claim is filed under.",
    "Claim.relatedClaims": "Claims this one repeats, supports, contradicts or responds to.",
    "ClaimSpeaker.role": "Speaker, co-signatory, or the group spoken for.",
    "ClaimSpeaker.position": "Order of credit, from 0.",
    "ClaimSpeaker.entity": "The person or organisation speaking.",
    "RelatedClaim": "A link from one claim to another.",
    "RelatedClaim.kind": "How the claims relate.",
    "RelatedClaim.claim": "The other claim.",
    # Entity
    "Entity.id": ID,
    "Entity.databaseId": DATABASE_ID,
    "Entity.kind": "Person, organisation, group, place, event or other.",
    "Entity.name": "Canonical name.",
    "Entity.description": "A short description, when known.",
    "Entity.aliases": "Other names it is found by (case and accents are ignored when matching).",
    "Entity.externalIds": "Identifiers in other databases, e.g. Wikidata QIDs.",
    "Entity.roles": "Offices held, with dates.",
    "Entity.claims(filter)": "Narrow the entity's claims further.",
    "Entity.claims(orderBy)": "Ordering (newest said first by default).",
    **_paged("Entity.claims"),
    **_paged("Entity.mentionedIn"),
    "EntityKind": "What kind of thing an entity is.",
    "ExternalId": "An identifier of the entity in another database.",
    "EntityRole.id": ID,
    "EntityRole.title": "The office, e.g. `Chancellor of Germany`.",
    "EntityRole.startDate": "Since when (ISO date), when known.",
    "EntityRole.endDate": "Until when; null while held.",
    # Source
    "Source.id": ID,
    "Source.databaseId": DATABASE_ID,
    "Source.kind": "News article, statement, transcript, social post, press release, fact check or other.",
    "Source.title": "Headline or title.",
    "Source.url": "Where it was published, when it has a URL.",
    "Source.publishedAt": "When it was published: the claims in it were reported at this time.",
    "Source.language": "BCP 47 language tag, e.g. `en`.",
    "Source.authors": "Who wrote it, in byline order.",
    **_paged("Source.claims"),
    "SourceKind": "What kind of document a source is.",
    "Appearance.id": ID,
    "Appearance.source": "The source printing the claim.",
    "Span": "Character offsets of a quote in its source's text: `[start, end)`.",
    "Span.start": "Offset of the first character (from 0).",
    "Span.end": "Offset after the last character.",
    # Topic
    "Topic.id": ID,
    "Topic.slug": "Stable identifier, e.g. `ukraine-crisis` (use it in `ClaimFilter.topics`).",
    "Topic.name": "Display name.",
    "Topic.claims": "Claims filed under the topic, newest said first.",
    **_paged("Topic.claims"),
    # Connections
    "ClaimConnection.edges": "The page's claims, each with its cursor.",
    "ClaimConnection.pageInfo": "Where the page is and how to get the next one.",
    "ClaimEdge": "A claim in a page, with its cursor.",
    "ClaimEdge.cursor": "Opaque keyset cursor for `after`/`before`.",
    "ClaimEdge.node": "The claim.",
    "EntityConnection": "A page of entities.",
    "EntityConnection.edges": "The page's entities, each with its cursor.",
    "EntityConnection.pageInfo": "Where the page is and how to get the next one.",
    "EntityEdge": "An entity in a page, with its cursor.",
    "EntityEdge.cursor": "Opaque cursor for `after`.",
    "EntityEdge.node": "The entity.",
    "SourceConnection": "A page of sources, newest published first.",
    "SourceConnection.edges": "The page's sources, each with its cursor.",
    "SourceConnection.pageInfo": "Where the page is and how to get the next one.",
    "SourceEdge": "A source in a page, with its cursor.",
    "SourceEdge.cursor": "Opaque cursor for `after`.",
    "SourceEdge.node": "The source.",
    "PageInfo": "Relay page information.",
    "PageInfo.hasNextPage": "Whether more items follow this page.",
    "PageInfo.hasPreviousPage": "Whether items precede this page (true after a cursor; exact when paging backwards).",
    "PageInfo.startCursor": "Cursor of the first edge (for `before`).",
    "PageInfo.endCursor": "Cursor of the last edge (for `after`).",
    "ClaimFilter.kind": "Claim kinds (any of them).",
    "ClaimFilter.language": "Language tags (any of them), e.g. `en`.",
    "SearchResult": "A claim or an entity found by `search`, ranked together.",
    # Query
    "Query": "Everything readable: claims, entities, sources, topics and search.",
    "Query.node(id)": "A global id from any object's `id`.",
    "Query.nodes(ids)": "Global ids; unknown ones give null in their place.",
    "Query.claims(filter)": "Which claims (all when omitted).",
    "Query.claims(orderBy)": "Ordering: newest said first by default; `RELEVANCE` needs `filter.search`.",
    **_paged("Query.claims"),
    "Query.claim": "One claim by id, or null.",
    "Query.claim(id)": "The claim's global id (or its REST id as a string).",
    "Query.entity": "One entity by id, or null. The id of an entity merged into another gives the one it was "
    "merged into (its `id` is then the survivor's), as REST answers 308 to it.",
    "Query.entity(id)": "The entity's global id (or its REST id as a string).",
    "Query.entities(search)": "Words of a name or alias; prefixes match (`mer` finds Merz).",
    "Query.entities(kind)": "Only entities of this kind.",
    "Query.entities(first)": FIRST,
    "Query.entities(after)": AFTER,
    "Query.source": "One source by id, or null.",
    "Query.source(id)": "The source's global id (or its REST id as a string).",
    "Query.sources(publisher)": "Only sources by this publisher (its entity id).",
    "Query.sources(publishedAfter)": "Published at or after (inclusive).",
    "Query.sources(publishedBefore)": "Published before (exclusive).",
    "Query.sources(first)": FIRST,
    "Query.sources(after)": AFTER,
    "Query.search(query)": "What to look for in claim contents and entity names.",
    "Query.search(first)": "How many results (1–100, default 10).",
    # Mutation
    "Mutation": "Writes; each needs an API key (`X-API-Key`) with the `write` scope (deletes and merges: `admin`).",
    "Mutation.importSource(input)": "The source document to write.",
    "Mutation.createClaim(input)": "The claim and where it was reported.",
    "Mutation.updateClaim(input)": "The claim, its current version and the fields to change.",
    "Mutation.deleteClaim(input)": "The claim to delete and why.",
    "Mutation.mergeEntities(input)": "The duplicate entity and the one it folds into.",
    "ImportSourcePayload": "The result of `importSource`.",
    "ImportSourcePayload.source": "The source written or found again; null on user errors.",
    "ImportSourcePayload.claims": "Its claims, in document order; empty on user errors.",
    "ImportSourcePayload.userErrors": USER_ERRORS,
    "UserError.message": "What is wrong, for people.",
    "UserError.code": "What is wrong, for programs: INVALID, NOT_FOUND, DELETED, STALE, CONFLICT or CONSTRAINT.",
    "CreateClaimPayload": "The result of `createClaim`.",
    "CreateClaimPayload.claim": "The claim created or found again; null on user errors.",
    "CreateClaimPayload.userErrors": USER_ERRORS,
    "UpdateClaimPayload": "The result of `updateClaim`.",
    "UpdateClaimPayload.claim": "The claim as changed; null on user errors.",
    "UpdateClaimPayload.version": "The claim's version after the change (send it with the next update).",
    "UpdateClaimPayload.userErrors": USER_ERRORS,
    "UpdateClaimInput.id": "The claim's global id.",
    "UpdateClaimInput.kind": "New kind.",
    "UpdateClaimInput.saidAtPrecision": "New precision of `saidAt`.",
    "DeleteClaimPayload": "The result of `deleteClaim`.",
    "DeleteClaimPayload.userErrors": USER_ERRORS,
    "DeleteClaimInput": "Which claim to delete.",
    "DeleteClaimInput.id": "The claim's global id.",
    "MergeEntitiesPayload": "The result of `mergeEntities`.",
    "MergeEntitiesPayload.mergedEntityId": "The id of the duplicate that no longer exists.",
    "MergeEntitiesPayload.userErrors": USER_ERRORS,
    # Subscription
    "Subscription": "Live updates over `graphql-transport-ws` (send `X-API-Key` in `connection_init` if needed).",
    "Subscription.claimAdded(filter)": "Only claims matching this filter (all when omitted).",
}

_Described = GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType


def describe(schema: strawberry.Schema) -> strawberry.Schema:
    """Fill in missing descriptions of ``schema`` from `DESCRIPTIONS`; returns the schema."""
    for name, kind in core_schema(schema).type_map.items():
        if name.startswith("__"):
            continue
        if not kind.description and name in DESCRIPTIONS:
            kind.description = DESCRIPTIONS[name]
        if isinstance(kind, _Described):
            for field_name, field in kind.fields.items():
                key = f"{name}.{field_name}"
                if not field.description and key in DESCRIPTIONS:
                    field.description = DESCRIPTIONS[key]
                for arg_name, arg in getattr(field, "args", {}).items():
                    arg_key = f"{key}({arg_name})"
                    if not arg.description and arg_key in DESCRIPTIONS:
                        arg.description = DESCRIPTIONS[arg_key]
        elif isinstance(kind, GraphQLEnumType) and not kind.description and name in DESCRIPTIONS:
            kind.description = DESCRIPTIONS[name]
    return schema
