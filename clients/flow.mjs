// The booking flow as the React app and the PWA run it: Apollo Client 4 over HTTP and
// graphql-ws (token in connection_init), plus the legacy subscriptions-transport-ws
// protocol. Driven by tests/it/clients.rs against a test server; prints one JSON line
// of what it saw and exits non-zero on any failure.
//
// Environment: SCREEMA_URL (http://host:port), SHOWTIME_ID, CUSTOMER_EMAIL,
// PASSWORD, OTHER_TOKEN (a second customer's access token, the "other client").

import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import { SubscriptionClient } from "subscriptions-transport-ws";
import WebSocket from "ws";

const base = process.env.SCREEMA_URL;
const wsUrl = base.replace(/^http/, "ws") + "/graphql";
const showtimeId = process.env.SHOWTIME_ID;
const fail = (message) => {
  console.error(message);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30_000).unref();

const SEAT_MAP = gql`
  subscription ($id: ID!) {
    seatMap(showtimeId: $id) {
      version
      availableSeats
      snapshot { version rows { seats { number state heldByMe } } }
      changes { number state }
    }
  }
`;

/** Plain HTTP, as any other client would do it. */
async function post(query, variables, token) {
  const response = await fetch(base + "/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) fail(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** The next value of an observable-like subscription, in order. */
function queue(subscribe) {
  const values = [];
  const waiting = [];
  subscribe({
    next: (v) => (waiting.length ? waiting.shift()(v) : values.push(v)),
    error: (e) => fail(`subscription error: ${JSON.stringify(e)}`),
  });
  return () => (values.length ? Promise.resolve(values.shift()) : new Promise((r) => waiting.push(r)));
}

// Log in through Apollo over HTTP.
const anonymous = new ApolloClient({ link: new HttpLink({ uri: base + "/graphql" }), cache: new InMemoryCache() });
const login = await anonymous.mutate({
  mutation: gql`mutation ($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { accessToken user { email } } }`,
  variables: { email: process.env.CUSTOMER_EMAIL, password: process.env.PASSWORD },
});
const token = login.data.login.accessToken;

const wsClient = createClient({
  url: wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
});
const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: split(
    ({ query }) => {
      const d = getMainDefinition(query);
      return d.kind === "OperationDefinition" && d.operation === "subscription";
    },
    new GraphQLWsLink(wsClient),
    new HttpLink({ uri: base + "/graphql", headers: { authorization: `Bearer ${token}` } }),
  ),
});

const movies = await client.query({ query: gql`{ movies(limit: 5) { movies { id title } pagination { total } } }` });
const seen = { movies: movies.data.movies.movies.length };

// Subscribe over graphql-transport-ws: a snapshot first, then each change.
const next = queue((o) => client.subscribe({ query: SEAT_MAP, variables: { id: showtimeId } }).subscribe(o));
const first = (await next()).data.seatMap;
if (!first.snapshot) fail("the first event has no snapshot");
seen.firstVersion = first.version;

// Another client holds a seat over HTTP; it arrives as the next event, one version on.
const LOCK = `mutation ($s: ID!, $n: [String!]!) { lockSeats(input: { showtimeId: $s, seatNumbers: $n }) { lockToken } }`;
await post(LOCK, { s: showtimeId, n: ["A1"] }, process.env.OTHER_TOKEN);
const held = (await next()).data.seatMap;
seen.heldVersion = held.version;
seen.heldChange = held.changes;
if (held.version !== first.version + 1) fail(`expected version ${first.version + 1}, got ${held.version}`);

// The same subscription through the legacy protocol.
const legacy = new SubscriptionClient(wsUrl, { connectionParams: { authorization: `Bearer ${token}` } }, WebSocket);
const legacyNext = queue((o) => legacy.request({ query: SEAT_MAP.loc.source.body, variables: { id: showtimeId } }).subscribe(o));
const legacyFirst = (await legacyNext()).data.seatMap;
seen.legacySnapshotVersion = legacyFirst.snapshot.version;

// Hold, book and pay as the app does; the seats turn BOOKED on both subscriptions.
const lock = await client.mutate({ mutation: gql(LOCK), variables: { s: showtimeId, n: ["A2", "A3"] } });
const mine = (await next()).data.seatMap;
seen.mineHeld = mine.changes;
const booked = await client.mutate({
  mutation: gql`mutation ($s: ID!, $n: [String!]!, $t: String!) { createBooking(input: { showtimeId: $s, seatNumbers: $n, lockToken: $t }) { paymentClientSecret booking { id status finalAmount { amount currency } } } }`,
  variables: { s: showtimeId, n: ["A2", "A3"], t: lock.data.lockSeats.lockToken },
});
const bookingId = booked.data.createBooking.booking.id;
const bookedEvent = (await next()).data.seatMap;
seen.bookedChange = bookedEvent.changes;
seen.bookedVersion = bookedEvent.version;
await legacyNext(); // the hold
seen.legacyBooked = (await legacyNext()).data.seatMap.changes;

// The simulated gateway confirms the payment through the signed webhook.
for (let i = 0; i < 100; i++) {
  const r = await client.query({
    query: gql`query ($id: ID!) { booking(id: $id) { status qrCode } }`,
    variables: { id: bookingId },
    fetchPolicy: "network-only",
  });
  if (r.data.booking.status === "CONFIRMED") {
    seen.confirmed = true;
    seen.qrCode = r.data.booking.qrCode.slice(0, 3);
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
seen.amount = booked.data.createBooking.booking.finalAmount;
console.log(JSON.stringify(seen));
legacy.close();
await wsClient.dispose();
process.exit(0);
