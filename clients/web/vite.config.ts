import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { defineConfig, type Plugin } from "vite";

// Served by the server at /app/ (dist/ as built); the API is the same origin's
// /graphql (HTTP and websocket) and /api/*.
const BASE = "/app/";
// `npm run dev` and `vite preview` forward the API to a running server.
const API = process.env.SCREEMA_API ?? "http://127.0.0.1:8080";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Emits `sw.js` (from sw/sw.js) with the list of files that make the app shell: every
 * file of the bundle (hashed names) and of public/, and a version that changes with
 * them, so a new build installs a new cache and drops the old one.
 */
function serviceWorker(): Plugin {
  return {
    name: "screema-service-worker",
    apply: "build",
    generateBundle(_options, bundle) {
      const built = Object.keys(bundle).filter((f) => !f.endsWith(".map"));
      const publicFiles = filesUnder("public").map((f) => relative("public", f).split("\\").join("/"));
      // index.html is emitted by Vite's own HTML plugin, after this hook may run.
      const shell = [...new Set(["index.html", ...built, ...publicFiles])].sort().map((f) => BASE + f);
      const version = createHash("sha256").update(shell.join("\n")).update(
        built.map((f) => {
          const item = bundle[f]!;
          return item.type === "chunk" ? item.code : String(item.source);
        }).join("\n"),
      ).digest("hex").slice(0, 12);
      const template = readFileSync("sw/sw.js", "utf8");
      for (const placeholder of ["__SHELL__", "__VERSION__", "__BASE__"]) {
        if (template.split(placeholder).length !== 2) throw new Error(`sw/sw.js: ${placeholder} must appear once`);
      }
      const source = template
        .replace("__SHELL__", JSON.stringify(shell))
        .replace("__VERSION__", version)
        .replace("__BASE__", BASE);
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}

const proxy = {
  "/graphql": { target: API, ws: true, changeOrigin: false },
  "/api": { target: API, changeOrigin: false },
};

export default defineConfig({
  base: BASE,
  // JSX through Vite's own transform (Oxc, React's automatic runtime): no React plugin
  // to install. What the plugin would add is Fast Refresh in `npm run dev`, which this
  // app does without (a change reloads the page).
  oxc: { jsx: { runtime: "automatic" } },
  plugins: [serviceWorker()],
  build: {
    target: "es2022",
    sourcemap: false,
    // One chunk for the app and one for the libraries (React, Apollo, graphql-ws), which
    // change less often; Stripe's loader stays apart, loaded only when a key is set.
    rolldownOptions: {
      output: {
        codeSplitting: { groups: [{ name: "vendor", test: /node_modules[\\/](?!@stripe)/ }] },
      },
    },
  },
  server: { proxy },
  preview: { proxy, port: 4173, strictPort: true },
});
