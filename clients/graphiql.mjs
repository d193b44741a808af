// GraphiQL in a real browser (Debian's chromium, driven by playwright-core): open the
// playground the server serves, type a query into its editor, run it, read the result.
// The machine has no internet, so this also proves the page needs no CDN.
// Environment: SCREEMA_URL, EXPECT (text the result must contain), SCREENSHOT (a path).

import { chromium } from "playwright-core";

const base = process.env.SCREEMA_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const external = [];
try {
  const page = await browser.newPage();
  page.on("request", (r) => {
    if (!r.url().startsWith(base)) external.push(r.url());
  });
  await page.goto(base + "/graphql", { waitUntil: "load" });
  const editor = page.locator(".graphiql-query-editor .CodeMirror").first();
  await editor.waitFor({ timeout: 15_000 });
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  // Typed as a person would; the editor closes brackets itself, so only openers are typed.
  await page.keyboard.type("{ theaters { name ");
  await page.keyboard.press("Control+Enter");
  const result = page.locator(".result-window .CodeMirror-code").first();
  await result.filter({ hasText: process.env.EXPECT }).waitFor({ timeout: 15_000 });
  const text = await result.innerText();
  const query = (await page.locator(".graphiql-query-editor .CodeMirror-line").allInnerTexts()).join("\n");
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  console.log(JSON.stringify({ query, result: text, external }));
} finally {
  await browser.close();
}
