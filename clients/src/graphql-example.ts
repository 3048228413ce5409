// A front end's GraphQL calls, typed from schema/schema.graphql by GraphQL Code Generator
// (`make clients` generates src/generated/graphql/ and type-checks this file with tsc --strict).
// The `@ts-expect-error` lines are the proof: each must be a type error, or tsc fails.
import { graphql } from "./generated/graphql/index.js";
import type { ClaimAddedSubscription, ClaimFilter, TypedDocumentString } from "./generated/graphql/graphql.js";

/** POST one operation to /graphql; the result and the variables are typed by the document. */
export async function request<Result, Variables>(
  endpoint: string,
  document: TypedDocumentString<Result, Variables>,
  variables: Variables,
  apiKey?: string,
): Promise<Result> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...(apiKey ? { "x-api-key": apiKey } : {}),
    },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: { message: string }[] };
  if (body.errors?.length || body.data === undefined) {
    throw new Error(body.errors?.map((e) => e.message).join("; ") ?? `HTTP ${response.status}`);
  }
  return body.data;
}

export const Feed = graphql(`
  query Feed($after: String, $filter: ClaimFilter) {
    claims(first: 20, after: $after, filter: $filter) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id content kind saidAt saidAtPrecision
          speakers { role entity { id name } }
          appearances { quote source { title url publishedAt publisher { name } } }
        }
      }
    }
  }
`);

export const ClaimPage = graphql(`
  query ClaimPage($id: ID!) {
    claim(id: $id) {
      id content language saidAt firstReportedAt
      topics { slug name }
      mentions { id name kind }
    }
  }
`);

export const ClaimCard = graphql(`
  fragment ClaimCard on Claim { id content speakers { entity { name } } }
`);

export const EntityCard = graphql(`
  fragment EntityCard on Entity { id name kind aliases }
`);

export const NodeCard = graphql(`
  query NodeCard($id: ID!) {
    node(id: $id) {
      __typename
      ...ClaimCard
      ...EntityCard
      ... on Source { id title url }
    }
  }
`);

export const ClaimAdded = graphql(`
  subscription ClaimAdded($filter: ClaimFilter) {
    claimAdded(filter: $filter) { id content speakers { entity { name } } }
  }
`);

export const CreateClaim = graphql(`
  mutation CreateClaim($input: CreateClaimInput!) {
    createClaim(input: $input) {
      created version
      claim { id content }
      userErrors { field message code }
    }
  }
`);

export async function feedPage(endpoint: string, after: string | null): Promise<string[]> {
  const filter: ClaimFilter = { topics: ["ukraine-crisis"] };
  const data = await request(endpoint, Feed, { after, filter });
  const speakers = data.claims.edges.flatMap((e) => e.node.speakers.map((s) => s.entity.name));
  // @ts-expect-error `kind` is an enum of three strings, not any string
  const notAKind: typeof data.claims.edges[number]["node"]["kind"] = "QUOTE";
  void notAKind;
  return speakers;
}

export async function claimTitle(endpoint: string, id: string): Promise<string> {
  const data = await request(endpoint, ClaimPage, { id });
  // @ts-expect-error `claim` is null for an unknown id: it must be checked first
  void data.claim.content;
  return data.claim ? `${data.claim.content} (${data.claim.topics.map((t) => t.slug).join(", ")})` : "not found";
}

export async function nodeLabel(endpoint: string, id: string): Promise<string> {
  const { node } = await request(endpoint, NodeCard, { id });
  switch (node?.__typename) {
    case "Claim":
      return `${node.content} — ${node.speakers.map((s) => s.entity.name).join(", ")}`;
    case "Entity":
      return `${node.name} (${node.kind.toLowerCase()}, also ${node.aliases.join(", ")})`;
    case "Source":
      return node.title ?? node.url ?? node.id;
    default:
      return "unknown";
  }
}

/** What a claimAdded message (graphql-transport-ws `next`) carries, typed by the subscription. */
export function onClaimAdded(payload: { data?: ClaimAddedSubscription }): string | undefined {
  // @ts-expect-error a Claim has no `title`
  void payload.data?.claimAdded.title;
  return payload.data?.claimAdded.speakers[0]?.entity.name;
}

export async function addClaim(endpoint: string, apiKey: string): Promise<string[]> {
  const data = await request(
    endpoint,
    CreateClaim,
    {
      input: {
        source: {
          kind: "NEWS_ARTICLE",
          url: "https://example.org/report",
          publisher: { name: "Example News", kind: "ORGANIZATION" },
          publishedAt: "2025-11-26T09:00:00Z",
        },
        claim: {
          content: "Security guarantees must be robust.",
          saidAt: "2025-11-25",
          speakers: [{ entity: { name: "Keir Starmer", kind: "PERSON" }, role: "SPEAKER" }],
          appearance: { quote: "Security guarantees must be robust." },
        },
      },
    },
    apiKey,
  );
  await request(
    endpoint,
    CreateClaim,
    // @ts-expect-error a claim needs `speakers`: the typed input says so
    { input: { sourceId: "1", claim: { content: "Nobody said this." } } },
    apiKey,
  );
  await request(
    endpoint,
    CreateClaim,
    // @ts-expect-error `kind` takes the SourceKind enum, not any string
    { input: { source: { kind: "newspaper", title: "T" }, claim: { content: "x", speakers: [] } } },
    apiKey,
  );
  return data.createClaim?.userErrors.map((e) => `${(e.field ?? []).join(".")}: ${e.message}`) ?? [];
}
