// Automatic persisted queries as Apollo Client 4's PersistedQueryLink speaks them
// (hashed queries sent as GET), against two nodes of one test server (SCREEMA_URL,
// SCREEMA_URL_2) that share only Postgres and Redis. Records every HTTP exchange
// the links make and prints one JSON line; exits non-zero on any error.
//
//  1. A client asks node 1 for the home screen by hash alone: unknown, so the link
//     sends it again with its text, which node 1 keeps (in Redis).
//  2. A second client asks node 2 by hash: known, one GET, public Cache-Control.
//  3. A signed-in client (TOKEN) asks node 2 for its bookings by hash (registered
//     the same way): the answer is personal, so Cache-Control says no-store.

import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const fail = (message) => {
  console.error(message);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30_000).unref();

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

function client(base, token, log) {
  const fetchLogged = async (uri, options) => {
    const response = await fetch(uri, options);
    const body = await response.clone().text();
    log.push({
      method: options.method,
      hasQueryText: options.method === "GET" ? new URL(uri).searchParams.has("query") : body.length > 0 && JSON.parse(options.body).query !== undefined,
      status: response.status,
      cacheControl: response.headers.get("cache-control"),
      vary: response.headers.get("vary"),
      code: JSON.parse(body).errors?.[0]?.extensions?.code ?? null,
    });
    return response;
  };
  const http = new HttpLink({
    uri: `${base}/graphql`,
    fetch: fetchLogged,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: true });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}

const HOME = gql`
  query Home {
    movies(limit: 5) {
      movies { id title }
    }
  }
`;
const MINE = gql`
  query Mine {
    myBookings { id }
  }
`;

const seen = {};
try {
  const first = [];
  const a = await client(process.env.SCREEMA_URL, null, first).query({ query: HOME });
  seen.first = { requests: first, titles: a.data.movies.movies.map((m) => m.title) };

  const second = [];
  const b = await client(process.env.SCREEMA_URL_2, null, second).query({ query: HOME });
  seen.second = { requests: second, titles: b.data.movies.movies.map((m) => m.title) };

  const personal = [];
  await client(process.env.SCREEMA_URL, process.env.TOKEN, personal).query({ query: MINE });
  const again = [];
  const c = await client(process.env.SCREEMA_URL_2, process.env.TOKEN, again).query({ query: MINE });
  seen.personal = { register: personal, requests: again, bookings: c.data.myBookings.length };
} catch (e) {
  fail(`apq: ${e.stack || e}`);
}
console.log(JSON.stringify(seen));
