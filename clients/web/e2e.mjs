// The web app end to end in headless Chromium (Debian's, as clients/seatmap.mjs runs
// it), against a running server that serves the built app at /app/:
//
//  1. the first customer opens the app (films and showtimes), registers through the
//     app and opens a showing's live seat map; so does a second customer, in another
//     browser context (its own storage and websocket);
//  2. the first chooses seats on the map and holds them; the second's map shows them
//     HELD, live (how long it took is measured);
//  3. the first adds a snack, books and pays (the simulated gateway), and sees the
//     ticket with its QR code; the second's map shows the seats BOOKED;
//  4. an operator pastes the ticket's code on the check-in page and checks it in;
//  5. offline, the first customer's app still lists the films (the service worker's
//     caches), and those caches hold nothing personal.
//
// Prints one JSON line of what it saw (last line of stdout) and exits non-zero on any
// failure. Screenshots: home.png, seatmap-held.png (the second customer's map with
// the first's hold), ticket.png, checkin.png in SCREENSHOT_DIR.
//
// Environment:
//   SCREEMA_URL       the server, e.g. http://127.0.0.1:8080 (the app at $SCREEMA_URL/app/)
//   SHOWTIME_ID       optional: the showing to book; else the first one the home page lists.
//                     Check-in succeeds only within its window (an hour before the start
//                     to the end); outside it the check-in step reports the refusal.
//   CUSTOMER_EMAIL, CUSTOMER_PASSWORD   optional: the first customer signs in with these;
//   OTHER_EMAIL, OTHER_PASSWORD         optional: the second likewise. Without them each
//                     registers through the app as a new customer (…@example.test).
//   OPERATOR_TOKEN    an operator's (or admin's) access token, handed to the app as its
//                     sign-in; or OPERATOR_EMAIL and OPERATOR_PASSWORD to sign in through
//                     the app. Without any, the check-in step is skipped (checkIn: null).
//   SEATS             how many seats the first customer holds (default 2).
//   SCREENSHOT_DIR    where the screenshots go (default ./artifacts).
//   CHROMIUM          the browser (default /usr/bin/chromium).

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const base = (process.env.SCREEMA_URL || "").replace(/\/$/, "");
if (!base) {
  console.error("SCREEMA_URL is required");
  process.exit(2);
}
const app = `${base}/app/`;
const origin = new URL(base).origin;
const seatsWanted = Number(process.env.SEATS || 2);
const shots = resolve(process.env.SCREENSHOT_DIR || "artifacts");
mkdirSync(shots, { recursive: true });
const shot = (name) => join(shots, name);
let offline = false;
const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const seen = {
  app,
  showtimeId: process.env.SHOWTIME_ID || null,
  home: null,
  pwa: null,
  customers: {},
  hold: null,
  booking: null,
  secondSawBooked: null,
  ticket: null,
  checkIn: null,
  screenshots: {},
  external: [],
  consoleErrors: [],
};

// Nothing may come from anywhere but the server: no CDN, no fonts.
function watch(page, who) {
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) {
      seen.external.push(url);
    }
  });
  page.on("console", (message) => {
    // Offline (step 5) the page's failed requests are expected.
    if (message.type() === "error" && !offline) seen.consoleErrors.push(`${who}: ${message.text()}`);
  });
  page.on("pageerror", (error) => seen.consoleErrors.push(`${who}: ${error.message}`));
}

/** Waits to leave a form's page; if the form says why not, fails with its words. */
async function leave(page, route) {
  const alert = page.locator("form [role=alert]");
  const left = page.waitForURL((url) => !url.hash.startsWith(route), { timeout: 15_000 }).then(() => null);
  const refused = alert.waitFor({ timeout: 15_000 }).then(() => alert.innerText(), () => new Promise(() => {}));
  const why = await Promise.race([left, refused]);
  if (why) throw new Error(`${route}: ${why}`);
}

async function register(page, who, next) {
  const email = `web-${who}-${unique}@example.test`;
  await page.goto(`${app}#/register?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Full name").fill(`Web ${who === "first" ? "First" : "Second"}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel(/^Password/).fill(`correct-horse-${unique}`);
  await page.getByRole("button", { name: "Register" }).click();
  await leave(page, "#/register");
  return email;
}

async function signIn(page, email, password, next) {
  await page.goto(`${app}#/signin?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await leave(page, "#/signin");
  return email;
}

async function customer(page, who, emailVar, passwordVar, next) {
  const email = process.env[emailVar];
  const password = process.env[passwordVar];
  return email && password ? signIn(page, email, password, next) : register(page, who, next);
}

async function liveMap(page) {
  await page.locator('#live-status[data-status="live"]').waitFor({ timeout: 15_000 });
  await page.locator("#room rect[data-state]").first().waitFor({ timeout: 15_000 });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const deadline = setTimeout(() => {
  console.error("e2e: timed out after 120 s");
  process.exit(1);
}, 120_000);
try {
  const contextOptions = { viewport: { width: 1024, height: 900 }, serviceWorkers: "allow" };
  const first = await (await browser.newContext(contextOptions)).newPage();
  const second = await (await browser.newContext(contextOptions)).newPage();
  watch(first, "first");
  watch(second, "second");

  // 1. Home: films and showtimes.
  await first.goto(app);
  await Promise.race([
    first.locator("#films > li").first().waitFor({ timeout: 15_000 }),
    first.locator("main [role=alert]").waitFor({ timeout: 15_000 }).then(async () => {
      throw new Error(`home: ${await first.locator("main [role=alert]").innerText()}`);
    }, () => new Promise(() => {})),
  ]);
  await first.locator("a.showtime").first().waitFor({ timeout: 15_000 });
  seen.home = {
    title: await first.title(),
    films: await first.locator("#films > li").count(),
    showtimes: await first.locator("a.showtime").count(),
  };
  await first.screenshot({ path: shot("home.png"), fullPage: false });
  seen.screenshots.home = shot("home.png");
  seen.showtimeId ??= await first.locator("a.showtime").first().getAttribute("data-showtime");

  // The PWA: the manifest the page links, and its service worker running.
  seen.pwa = await first.evaluate(async () => {
    const link = document.querySelector('link[rel="manifest"]');
    const manifest = link ? await (await fetch(link.href)).json() : null;
    const ready = await Promise.race([
      navigator.serviceWorker.ready.then((r) => r.active?.state ?? null),
      new Promise((r) => setTimeout(() => r("not ready in 10 s"), 10_000)),
    ]);
    return {
      manifest: manifest && {
        name: manifest.name,
        display: manifest.display,
        start_url: manifest.start_url,
        icons: manifest.icons.map((i) => `${i.sizes} ${i.type}`),
      },
      serviceWorker: ready,
    };
  });

  // Both customers sign in (or register) and open the showing's live map.
  const showtimeRoute = `#/showtime/${seen.showtimeId}`;
  seen.customers.first = await customer(first, "first", "CUSTOMER_EMAIL", "CUSTOMER_PASSWORD", showtimeRoute);
  seen.customers.second = await customer(second, "second", "OTHER_EMAIL", "OTHER_PASSWORD", showtimeRoute);
  await liveMap(first);
  await liveMap(second);

  // 2. The first chooses seats side by side (the first row with enough free ones) and holds them.
  const chosen = await first.evaluate((count) => {
    const rows = new Map();
    for (const rect of document.querySelectorAll('#room rect[data-state="AVAILABLE"]')) {
      const row = rect.id.replace(/^seat-/, "").replace(/\d+$/, "");
      if (!rows.has(row)) rows.set(row, []);
      rows.get(row).push(rect.id.replace(/^seat-/, ""));
    }
    for (const seats of rows.values()) if (seats.length >= count) return seats.slice(0, count);
    return [...rows.values()].flat().slice(0, count);
  }, seatsWanted);
  if (chosen.length < seatsWanted) throw new Error(`only ${chosen.length} free seats`);
  const secondBefore = await second.locator("#count").innerText();
  for (const seat of chosen) await first.locator(`#seat-${seat}`).click();
  const started = Date.now();
  await first.locator("#hold").click();
  await Promise.all(
    chosen.map((seat) => second.locator(`#seat-${seat}[data-state="HELD"]`).waitFor({ timeout: 5_000 })),
  );
  const holdMs = Date.now() - started;
  await first.locator("#held-seats").waitFor({ timeout: 10_000 });
  await second.locator("#announce").filter({ hasText: chosen[0] }).waitFor({ timeout: 2_000 }).catch(() => {});
  seen.hold = {
    seats: chosen,
    elapsedMs: holdMs,
    secondSaw: Object.fromEntries(
      await Promise.all(chosen.map(async (s) => [s, await second.locator(`#seat-${s}`).getAttribute("data-state")])),
    ),
    secondMarksThemMine: (await second.locator("#room rect[data-mine]").count()) > 0,
    firstMarksThemMine: await first.locator("#room rect[data-mine]").count(),
    firstHeldText: await first.locator("#held-seats").innerText(),
    secondCountBefore: secondBefore,
    secondCountAfter: await second.locator("#count").innerText(),
    secondAnnounced: await second.locator("#announce").innerText(),
    fill: await second.locator(`#seat-${chosen[0]}`).getAttribute("fill"),
  };
  await second.screenshot({ path: shot("seatmap-held.png"), fullPage: true });
  seen.screenshots.seatmap = shot("seatmap-held.png");

  // 3. Snacks, book, pay, ticket.
  const snack = first.locator("input[data-snack]").first();
  let snackName = null;
  if (await snack.count()) {
    snackName = await snack.getAttribute("data-snack");
    await snack.fill("1");
  }
  const booked = Date.now();
  await first.locator("#book").click();
  await first.waitForURL((url) => url.hash.startsWith("#/booking/"), { timeout: 15_000 });
  const bookingId = decodeURIComponent(new URL(first.url()).hash.split("/")[2] || "");
  await first.locator("#booking-status").waitFor({ timeout: 10_000 });
  let paid = "confirmed before the pay button was needed";
  const pay = first.locator("#pay");
  if (await pay.isVisible().catch(() => false)) {
    await pay.click().then(() => (paid = "clicked pay"), () => {});
  }
  await first.locator("#ticket-qr").waitFor({ timeout: 30_000 });
  const confirmedMs = Date.now() - booked;
  const code = await first.locator("#ticket-code").inputValue();
  seen.booking = {
    id: bookingId,
    reference: await first.locator("#booking-reference").innerText(),
    status: await first.locator("#booking-status").getAttribute("data-status"),
    amount: await first.locator("#final-amount").innerText(),
    snack: snackName,
    paid,
    confirmedMs,
  };
  seen.ticket = {
    codePrefix: code.slice(0, 3),
    codeLength: code.length,
    qrModules: Number(await first.locator("#ticket-qr").getAttribute("data-modules")),
    qrLabel: await first.locator("#ticket-qr").getAttribute("aria-label"),
  };
  await first.screenshot({ path: shot("ticket.png"), fullPage: true });
  seen.screenshots.ticket = shot("ticket.png");

  // The second customer's map: the seats are sold now.
  const soldFrom = Date.now();
  await Promise.all(
    chosen.map((seat) => second.locator(`#seat-${seat}[data-state="BOOKED"]`).waitFor({ timeout: 5_000 })),
  );
  seen.secondSawBooked = { afterTicketMs: Date.now() - soldFrom, count: await second.locator("#count").innerText() };

  // 4. The operator pastes the code at the door.
  const operatorToken = process.env.OPERATOR_TOKEN;
  const operatorEmail = process.env.OPERATOR_EMAIL;
  if (operatorToken || operatorEmail) {
    const context = await browser.newContext(contextOptions);
    if (operatorToken) {
      await context.addInitScript((token) => {
        if (!localStorage.getItem("screema.session")) {
          localStorage.setItem("screema.session", JSON.stringify({ accessToken: token, refreshToken: null }));
        }
      }, operatorToken);
    }
    const door = await context.newPage();
    watch(door, "operator");
    if (operatorToken) await door.goto(`${app}#/door`);
    else await signIn(door, operatorEmail, process.env.OPERATOR_PASSWORD || "", "#/door");
    const field = door.getByLabel("Ticket code");
    await field.waitFor({ timeout: 15_000 });
    await field.focus();
    await door.keyboard.insertText(code); // as a paste: the whole code at once
    await door.locator("#checkin").click();
    const result = door.locator("#checkin-result [data-result]");
    await result.waitFor({ timeout: 10_000 });
    seen.checkIn = {
      by: operatorToken ? "token" : operatorEmail,
      result: await result.getAttribute("data-result"),
      code: await result.getAttribute("data-code"),
      text: (await result.innerText()).replace(/\s+/g, " ").trim(),
    };
    await door.screenshot({ path: shot("checkin.png"), fullPage: true });
    seen.screenshots.checkin = shot("checkin.png");
    // The customer's booking, read again: USED once it is checked in.
    await first.reload();
    await first.locator("#booking-status").waitFor({ timeout: 10_000 });
    seen.checkIn.bookingStatusAfter = await first.locator("#booking-status").getAttribute("data-status");
  }

  // 5. The PWA offline: the first customer's home page from the service worker's
  // caches, and nothing personal in them (no email, booking reference or ticket code).
  const caches = await first.evaluate(async () => {
    const out = [];
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const path = new URL(request.url).pathname;
        const body = name.includes("catalog") ? await (await cache.match(request)).text() : "";
        out.push({ cache: name, path, body });
      }
    }
    return out;
  });
  const personal = [seen.customers.first, seen.booking.reference, code];
  offline = true;
  await first.context().setOffline(true);
  await first.goto(app);
  const offlineFilms = await first
    .locator("#films > li")
    .first()
    .waitFor({ timeout: 10_000 })
    .then(() => first.locator("#films > li").count(), () => 0);
  await first.context().setOffline(false);
  offline = false;
  seen.pwa.cached = {
    shell: caches.filter((c) => c.cache.startsWith("screema-shell-")).length,
    catalog: caches.filter((c) => c.cache.startsWith("screema-catalog")).length,
    personal: caches.some((c) => personal.some((p) => p && (c.body.includes(p) || c.path.includes(p)))),
  };
  seen.pwa.offlineFilms = offlineFilms;

  console.log(JSON.stringify(seen));
} finally {
  clearTimeout(deadline);
  await browser.close();
}
