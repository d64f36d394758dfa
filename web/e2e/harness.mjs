// Shared helpers of the real-browser scenarios: Debian's Chromium driven
// by playwright-core, axe-core on every page visited, screenshots at
// desktop and mobile widths. A scenario is one file in scenarios/ that
// exports `name` and a default async function({ page, h }).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

// The flags the project runs Chromium with (no network beyond the server
// under test, no first-run or sync noise).
export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const viewports = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 375, height: 812 },
};

// The WCAG 2.1 AA rules; serious and critical violations fail a scenario.
const axeTags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export class Harness {
  constructor({ base, artifacts, scenario }) {
    this.base = base.replace(/\/$/, '');
    this.dir = path.join(artifacts, scenario);
    this.visited = [];
    this.problems = [];
  }

  async start() {
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true });
    this.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sportello-chromium-'));
    // A fresh --user-data-dir: a persistent context on a new directory.
    this.context = await chromium.launchPersistentContext(this.profile, {
      executablePath: chromiumPath, headless: true, args: chromiumArgs,
      viewport: viewports.desktop, locale: 'it-IT',
    });
    this.page = this.context.pages()[0] || await this.context.newPage();
    // Console errors (a CSP refusal among them) and failed loads of the
    // server's own URLs are problems of the page.
    // (A page answered with an error status is logged as "Failed to load
    // resource"; the scenarios expect some, such as a form's 400.)
    this.page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) this.problems.push(`console: ${m.text().slice(0, 300)}`);
    });
    this.page.on('response', (r) => { if (r.status() === 404 && r.url().startsWith(this.base) && r.request().resourceType() !== 'document') this.problems.push(`HTTP 404: ${r.url()}`); });
    this.page.on('pageerror', (e) => this.problems.push(`page error: ${e.message}`));
    this.page.on('requestfailed', (r) => { if (r.url().startsWith(this.base)) this.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
    this.page.on('response', (r) => { if (r.url().startsWith(this.base) && r.status() >= 500) this.problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    return this.page;
  }

  async stop() {
    await this.context?.close();
    if (this.profile) fs.rmSync(this.profile, { recursive: true, force: true });
  }

  url(p) { return this.base + p; }

  async goto(p) {
    const resp = await this.page.goto(this.url(p));
    return resp;
  }

  // checkPage runs axe on the current page and takes its screenshots; call
  // it on every page the scenario reaches.
  async checkPage(name) {
    const page = this.page;
    await page.waitForLoadState('load');
    await page.evaluate(axeSource);
    const result = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), axeTags);
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    for (const v of bad) {
      this.problems.push(`axe ${v.impact} ${v.id} on ${name} (${page.url()}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    }
    const shots = [];
    for (const [kind, size] of Object.entries(viewports)) {
      await page.setViewportSize(size);
      const file = path.join(this.dir, `${String(this.visited.length + 1).padStart(2, '0')}-${name}-${kind}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
    }
    await page.setViewportSize(viewports.desktop);
    this.visited.push({ name, url: page.url(), axe: { violations: result.violations.length, seriousOrCritical: bad.length }, shots });
  }

  // loginAs signs in through the development SPID provider (/dev-idp):
  // the portal's "Entra con SPID" button, then the identity picker.
  async loginAs(identity) {
    const page = this.page;
    await this.goto('/account');
    await page.getByRole('link', { name: /Entra con SPID/ }).first().click();
    await page.waitForURL(/\/dev-idp\//);
    await Promise.all([
      page.waitForURL(/\/account$/),
      page.locator(`form:has(input[name="identity"][value="${identity}"]) button`).click(),
    ]);
  }

  expect(cond, what) {
    if (!cond) throw new Error(`expectation failed: ${what}`);
  }

  report() {
    fs.writeFileSync(path.join(this.dir, 'report.json'), JSON.stringify({ visited: this.visited, problems: this.problems }, null, 2));
  }
}
