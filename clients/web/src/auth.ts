// The sign-in: the access token (a 15-minute JWT) and the refresh token that renews it.
// Both are kept in localStorage so a reload or a second tab stays signed in; the
// price is that a script injected into the page could read them, which is why the
// app loads nothing from anywhere but its own origin (no CDN, no inline script).
// Every use of the refresh token returns a new pair and retires the old one
// (presenting a retired one again ends the sign-in), so renewals are single-flight.

import { print } from "graphql";
import { graphql } from "./gql";

const KEY = "screema.session";

const RENEW = graphql(`
  mutation Renew($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) { accessToken refreshToken }
  }
`);

export interface Session {
  accessToken: string;
  /** Null for a session made from an access token alone (tests hand one in). */
  refreshToken: string | null;
}

interface Claims {
  sub?: string;
  exp?: number;
  role?: string;
}

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    return typeof parsed.accessToken === "string"
      ? { accessToken: parsed.accessToken, refreshToken: parsed.refreshToken ?? null }
      : null;
  } catch {
    return null;
  }
}

let current: Session | null = read();

export function session(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  current = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next));
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(next);
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Another tab signed in, out, or renewed the tokens.
window.addEventListener("storage", (event) => {
  if (event.key !== KEY) return;
  current = read();
  for (const listener of listeners) listener(current);
});

/** What the access token says about itself (not verified: the server does that). */
export function claims(token: string): Claims {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as Claims;
  } catch {
    return {};
  }
}

/** Who is signed in, for keying what must not outlive a sign-in (the Apollo cache). */
export function sessionUser(s: Session | null): string {
  return s ? (claims(s.accessToken).sub ?? "signed-in") : "anonymous";
}

let renewing: Promise<Session | null> | null = null;

/** Trades the refresh token for a new pair, once at a time. */
export function renew(): Promise<Session | null> {
  const from = current;
  if (!from?.refreshToken) return Promise.resolve(from);
  renewing ??= (async () => {
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({
          query: print(RENEW),
          variables: { refreshToken: from.refreshToken },
          operationName: "Renew",
        }),
      });
      const body = (await response.json()) as {
        data?: { refreshToken?: { accessToken: string; refreshToken: string } };
        errors?: unknown[];
      };
      const pair = body.data?.refreshToken;
      if (pair) {
        setSession({ accessToken: pair.accessToken, refreshToken: pair.refreshToken });
      } else if (current === from) {
        // Refused: retired, revoked or expired. The sign-in is over.
        setSession(null);
      }
      return current;
    } catch {
      // Offline: keep the session; the next request tries again.
      return current;
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

/** An access token good for at least another 30 seconds, renewed first if needed. */
export async function freshAccessToken(): Promise<string | null> {
  const s = current;
  if (!s) return null;
  const exp = claims(s.accessToken).exp;
  if (exp && exp * 1000 - Date.now() < 30_000 && s.refreshToken) {
    return (await renew())?.accessToken ?? null;
  }
  return s.accessToken;
}
