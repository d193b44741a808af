// Benchmark peer: PostGraphile v5 (Amber preset) serving a GraphQL API generated
// from SCREEMA's own Postgres schema, over Node's http with grafserv.
//
//   DATABASE_URL=postgres://screema:screema@127.0.0.1:5432/screema PORT=5678 \
//     node scripts/peer/server.mjs
//
// Listens on 127.0.0.1:${PORT:-5678}, GraphQL at /graphql. No GraphiQL, no watch
// mode, no explain. PG_POOL_MAX sets the pg pool size (default 10, node-postgres').
import "./polyfill.mjs";

import { createServer } from "node:http";

// Production mode, stated rather than defaulted (silences Grafast's start-up notice).
process.env.GRAPHILE_ENV ??= "production";

const { postgraphile } = await import("postgraphile");
const { grafserv } = await import("postgraphile/grafserv/node");
const { PostGraphileAmberPreset } = await import("postgraphile/presets/amber");
const { makePgService } = await import("postgraphile/adaptors/pg");

const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  console.error("server.mjs: DATABASE_URL is not set");
  process.exit(2);
}
const host = "127.0.0.1";
const port = Number(process.env.PORT || 5678);
const poolMax = Number(process.env.PG_POOL_MAX || 10);

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString,
      schemas: ["public"],
      poolConfig: { max: poolMax },
    }),
  ],
  grafserv: {
    host,
    port,
    graphqlPath: "/graphql",
    graphiql: false,
    graphqlOverGET: false,
    watch: false,
    websockets: false,
  },
  grafast: {
    explain: false,
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before accepting requests, so the first request is not slow
// and a schema error stops the process here.
await pgl.getSchema();

const shutdown = async () => {
  setTimeout(() => process.exit(0), 3000).unref();
  server.close();
  server.closeAllConnections();
  await pgl.release();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);

server.listen(port, host, () => {
  console.log(`screema peer (PostGraphile v5) listening on http://${host}:${port}/graphql`);
});
