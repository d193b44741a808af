// SCREEMA's service worker, emitted by the build as /app/sw.js with the shell's file
// list and version filled in by vite.config.ts (the serviceWorker plugin).
//
// Written by hand rather than with vite-plugin-pwa (Workbox): the rules here are few
// and must be exact, and they are easier to read and to check in one page than as
// Workbox configuration. Above all: a request that carries an Authorization header is
// never looked at (no respondWith), so nothing personal is ever written to a cache;
// and GraphQL answers are POSTs, which Workbox's runtime caching does not key by body.
// It also keeps workbox-build (with its own Babel and Rollup) out of the lock.
//
// - The shell (index.html, the hashed JS and CSS, the manifest and icons) is cached
//   at install; hashed files are served from the cache, the page network first.
// - The catalog: an anonymous GraphQL *query* POSTed to /graphql (the app sends its
//   catalog operations without a token: PUBLIC_OPERATIONS in src/apollo.ts) is
//   answered from the network, and the answer kept (keyed by the request body's
//   SHA-256) for when the network is gone. Mutations, subscriptions, and anything
//   sent with a token go straight to the network.
"use strict";

const VERSION = "__VERSION__";
const BASE = "__BASE__";
const SHELL = __SHELL__;
const SHELL_CACHE = `screema-shell-${VERSION}`;
const CATALOG_CACHE = "screema-catalog-v1";
/** Catalog answers kept at most (the oldest go first). */
const CATALOG_MAX = 60;
const INDEX = `${BASE}index.html`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith("screema-shell-") && key !== SHELL_CACHE)
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // Personal: never cached, never even answered from here.
  if (request.headers.has("authorization")) return;

  if (request.method === "POST" && url.pathname === "/graphql") {
    event.respondWith(catalog(request));
    return;
  }
  if (request.method !== "GET" || !url.pathname.startsWith(BASE)) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(
      caches.match(url.pathname, { cacheName: SHELL_CACHE }).then((hit) => hit || fetch(request)),
    );
  }
});

/** The page: the network's when it answers, else the cached shell (offline). */
async function page(request) {
  try {
    const response = await fetch(request);
    if (response.ok) return response;
    const cached = await caches.match(INDEX, { cacheName: SHELL_CACHE });
    return cached || response;
  } catch (error) {
    const cached = await caches.match(INDEX, { cacheName: SHELL_CACHE });
    if (cached) return cached;
    throw error;
  }
}

/** Whether a GraphQL request body is a query (not a mutation or subscription). */
function isQuery(body) {
  try {
    const { query } = JSON.parse(body);
    if (typeof query !== "string") return false;
    // Strip strings and comments, then look at each operation's keyword.
    const text = query.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/#[^\n]*/g, "");
    return !/(^|\})\s*(mutation|subscription)\b/.test(text);
  } catch {
    return false;
  }
}

async function keyOf(body) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${BASE}__catalog/${hex}`;
}

/** An anonymous query: network first, the last good answer when offline. */
async function catalog(request) {
  const body = await request.clone().text();
  if (!isQuery(body)) return fetch(request);
  const key = await keyOf(body);
  try {
    const response = await fetch(request);
    if (response.ok) {
      const copy = response.clone();
      // Only whole answers: no errors (a partial answer is not worth keeping).
      copy
        .json()
        .then(async (json) => {
          if (json && json.data && !json.errors) {
            const cache = await caches.open(CATALOG_CACHE);
            await cache.put(
              key,
              new Response(JSON.stringify(json), {
                headers: { "content-type": "application/json", "x-screema-cached-at": new Date().toISOString() },
              }),
            );
            const keys = await cache.keys();
            await Promise.all(keys.slice(0, Math.max(0, keys.length - CATALOG_MAX)).map((k) => cache.delete(k)));
          }
        })
        .catch(() => {});
    }
    return response;
  } catch (error) {
    const cached = await caches.match(key, { cacheName: CATALOG_CACHE });
    if (cached) return cached;
    throw error;
  }
}
