// An integration's REST calls, typed from openapi/openapi.json by openapi-typescript and made with
// openapi-fetch (`make clients` generates src/generated/openapi.ts and type-checks this file with
// tsc --strict). The `@ts-expect-error` lines are the proof: each must be a type error, or tsc fails.
import createClient from "openapi-fetch";
import type { paths } from "./generated/openapi.js";

export function client(baseUrl: string, apiKey?: string) {
  return createClient<paths>({ baseUrl, headers: apiKey ? { "X-API-Key": apiKey } : {} });
}

export async function claimContent(baseUrl: string, id: number): Promise<string> {
  const { data, error } = await client(baseUrl).GET("/v1/claims/{claim_id}", { params: { path: { claim_id: id } } });
  if (error) {
    return `${error.status}: ${error.detail}`;
  }
  if (!("content" in data)) {
    return data.text; // the schema.org `Claim` (JSON-LD), when asked for with Accept: application/ld+json
  }
  // @ts-expect-error `content` is a string, not a number
  const wrong: number = data.content;
  void wrong;
  return `${data.content} — ${data.speakers.map((s) => s.name).join(", ")}`;
}

export async function speakerSince(baseUrl: string, speaker: number): Promise<string | null | undefined> {
  const { data } = await client(baseUrl).GET("/v1/claims", {
    params: { query: { speaker: [speaker], said_after: "2025-11-01", limit: 20 } },
  });
  // @ts-expect-error `/v1/claims` has no `speakers` parameter
  await client(baseUrl).GET("/v1/claims", { params: { query: { speakers: [speaker] } } });
  return data?.data[0]?.content ?? data?.next_cursor;
}

export async function pushClaim(baseUrl: string, apiKey: string): Promise<number | undefined> {
  const { data } = await client(baseUrl, apiKey).POST("/v1/claims", {
    body: {
      source: { id: 1 },
      claim: {
        content: "Security guarantees must be robust.",
        said_at: "2025-11-25",
        speakers: [{ entity: { name: "Keir Starmer", kind: "person" } }],
      },
    },
  });
  await client(baseUrl, apiKey).POST("/v1/claims", {
    // @ts-expect-error a claim needs `speakers`
    body: { source: { id: 1 }, claim: { content: "Nobody said this." } },
  });
  return data?.id;
}
