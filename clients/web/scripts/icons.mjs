// Draws the PNG icons of the web manifest from public/icons/*.svg with the machine's
// Chromium (as the e2e script runs it). Run after changing an SVG:
//   node scripts/icons.mjs
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

const out = new URL("../public/icons/", import.meta.url);
const jobs = [
  ["icon.svg", "icon-192.png", 192],
  ["icon.svg", "icon-512.png", 512],
  ["maskable.svg", "maskable-512.png", 512],
];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  for (const [svg, png, size] of jobs) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    const source = readFileSync(new URL(svg, out), "utf8");
    await page.setContent(
      `<html><body style="margin:0;background:transparent">${source.replace("<svg ", `<svg width="${size}" height="${size}" `)}</body></html>`,
    );
    await page.screenshot({ path: new URL(png, out).pathname, omitBackground: true });
    await page.close();
    console.log(`${png} ${size}x${size}`);
  }
} finally {
  await browser.close();
}
