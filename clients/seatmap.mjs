// The live seat-map page in a real browser: it draws the room, and a hold made through
// the API turns the seats' colour within a second; with ADMIN_TOKEN, the showtime is
// then cancelled through the API and the open page says so. Environment: SCREEMA_URL,
// SHOWTIME_ID, TOKEN (a customer's access token), ADMIN_TOKEN, SCREENSHOT and
// SCREENSHOT_CANCELLED (paths).

import { chromium } from "playwright-core";

const base = process.env.SCREEMA_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
  await page.goto(`${base}/seatmap/${process.env.SHOWTIME_ID}`);
  await page.locator('#seat-A1[data-state="AVAILABLE"]').waitFor({ timeout: 10_000 });
  const before = {
    blocked: await page.locator('#seat-B3').getAttribute("data-state"),
    count: await page.locator("#count").innerText(),
    seats: await page.locator("svg rect").count(),
    banner: await page.locator("#banner").isVisible(),
  };
  const started = Date.now();
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${process.env.TOKEN}` },
    body: JSON.stringify({
      query: "mutation ($s: ID!) { lockSeats(input: { showtimeId: $s, seatNumbers: [\"A1\", \"A2\"] }) { lockToken } }",
      variables: { s: process.env.SHOWTIME_ID },
    }),
  });
  const answered = await response.json();
  if (answered.errors) throw new Error(JSON.stringify(answered.errors));
  await page.locator('#seat-A2[data-state="HELD"]').waitFor({ timeout: 1_000 });
  const elapsedMs = Date.now() - started;
  const after = {
    a1: await page.locator("#seat-A1").getAttribute("fill"),
    count: await page.locator("#count").innerText(),
    // What the page resumes from when its websocket reconnects (`since`).
    version: await page.locator("body").getAttribute("data-version"),
    epoch: await page.locator("body").getAttribute("data-epoch"),
  };
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  const title = await page.locator("#title").innerText();
  // Someone joins the waiting list for three seats side by side (none are free); a
  // seat changing then brings the page's count up to date.
  let waiting = null;
  if (process.env.WAITER_TOKEN) {
    const gql = async (token, query) => {
      const r = await fetch(`${base}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables: { s: process.env.SHOWTIME_ID } }),
      });
      const answered = await r.json();
      if (answered.errors) throw new Error(JSON.stringify(answered.errors));
      return answered.data;
    };
    await gql(process.env.WAITER_TOKEN,
      "mutation ($s: ID!) { joinWaitlist(input: { showtimeId: $s, count: 3 }) { id } }");
    await gql(process.env.TOKEN,
      "mutation ($s: ID!) { lockSeats(input: { showtimeId: $s, seatNumbers: [\"B1\"] }) { lockToken } }");
    await page.locator("#count", { hasText: "1 waiting" }).waitFor({ timeout: 5_000 });
    waiting = await page.locator("#count").innerText();
  }
  let cancelled = null;
  if (process.env.ADMIN_TOKEN) {
    const started = Date.now();
    const response = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${process.env.ADMIN_TOKEN}` },
      body: JSON.stringify({
        query: "mutation ($s: ID!) { cancelShowtime(id: $s, reason: \"the projector broke\") { status } }",
        variables: { s: process.env.SHOWTIME_ID },
      }),
    });
    const answered = await response.json();
    if (answered.errors) throw new Error(JSON.stringify(answered.errors));
    await page.locator('body[data-showtime-status="CANCELLED"]').waitFor({ timeout: 2_000 });
    cancelled = {
      elapsedMs: Date.now() - started,
      text: await page.locator("#cancelled").innerText(),
      visible: await page.locator("#cancelled").isVisible(),
      count: await page.locator("#count").innerText(),
      a1: await page.locator("#seat-A1").getAttribute("data-state"),
    };
    if (process.env.SCREENSHOT_CANCELLED) {
      await page.screenshot({ path: process.env.SCREENSHOT_CANCELLED });
    }
  }
  console.log(JSON.stringify({ before, after, elapsedMs, title, waiting, cancelled }));
} finally {
  await browser.close();
}
