// Apollo Client over the same origin's /graphql: queries and mutations over HTTP,
// subscriptions over one websocket (graphql-transport-ws, the token in
// `connection_init`). One client per sign-in (see App): signing in or out drops the
// cache, so nothing personal outlives the sign-in that fetched it.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { CombinedGraphQLErrors } from "@apollo/client/errors";
import { SetContextLink } from "@apollo/client/link/context";
import { ErrorLink } from "@apollo/client/link/error";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient, type Client } from "graphql-ws";
import { from, mergeMap } from "rxjs";
import { freshAccessToken, renew, session } from "./auth";

/**
 * The catalog's operations: sent without the Authorization header even when signed
 * in. Their answers are the same for everyone, so the service worker may keep them
 * (it never keeps an answer to a request that carries a token) and a CDN may too.
 */
export const PUBLIC_OPERATIONS = new Set(["Films", "ShowtimeDetails", "Snacks"]);

function wsUrl(): string {
  return location.origin.replace(/^http/, "ws") + "/graphql";
}

export interface Api {
  client: ApolloClient;
  ws: Client;
}

export function createApi(): Api {
  const ws = createClient({
    url: wsUrl(),
    lazy: true,
    // Called on every (re)connection: the server closes a signed-in socket with 4403
    // when its access token expires, and graphql-ws then reconnects with a fresh one
    // and subscribes again to what was running.
    connectionParams: async () => {
      const token = await freshAccessToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** retries, 10_000)));
    },
  });

  const auth = new SetContextLink(async (prev, operation) => {
    if (operation.operationName && PUBLIC_OPERATIONS.has(operation.operationName)) return {};
    const token = await freshAccessToken();
    if (!token) return {};
    return { headers: { ...(prev.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } };
  });

  // A token the server refuses (its sign-in ended elsewhere, or it expired while the
  // tab slept): renew once and send the operation again.
  const retry = new ErrorLink(({ error, operation, forward }) => {
    const unauthenticated =
      CombinedGraphQLErrors.is(error) &&
      error.errors.some((e) => e.extensions?.["code"] === "UNAUTHENTICATED");
    if (!unauthenticated || operation.getContext()["renewed"] || !session()?.refreshToken) return;
    operation.setContext({ renewed: true });
    return from(renew()).pipe(mergeMap(() => forward(operation)));
  });

  const transport = ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(ws),
    new HttpLink({ uri: "/graphql" }),
  );

  const client = new ApolloClient({
    link: ApolloLink.from([retry, auth, transport]),
    cache: new InMemoryCache({
      typePolicies: {
        // Value objects without ids: kept inside their parent.
        Money: { keyFields: false },
        SeatMap: { keyFields: false },
        Pagination: { keyFields: false },
      },
    }),
  });
  return { client, ws };
}
