// The live seat-map page in a real browser: it draws the room, and a hold made through
// the API turns the seats' colour within a second. Environment: SCREEMA_URL,
// SHOWTIME_ID, TOKEN (a customer's access token), SCREENSHOT (a path).

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
  };
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  console.log(JSON.stringify({ before, after, elapsedMs }));
} finally {
  await browser.close();
}
