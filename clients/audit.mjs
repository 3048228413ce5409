// The GraphQL-over-HTTP audit of graphql-http (the spec's reference implementation) against a
// running server: `node audit.mjs http://127.0.0.1:8000/graphql`. Prints every audit that is not
// "ok" and exits 1 when a MUST or SHOULD fails (MAY notices are listed, not failures).
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs <graphql endpoint URL>");
  process.exit(2);
}
const results = await auditServer({ url });
for (const result of results) {
  if (result.status !== "ok") console.log(`${result.status} ${result.id} ${result.name}: ${result.reason}`);
}
const count = (status) => results.filter((r) => r.status === status).length;
console.log(`ok ${count("ok")}, notice ${count("notice")}, warn ${count("warn")}, error ${count("error")} of ${results.length}`);
process.exit(count("error") + count("warn") > 0 ? 1 : 0);
