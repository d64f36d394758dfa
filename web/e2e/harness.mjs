// Shared helpers of the real-browser scenarios: Debian's Chromium driven
// by playwright-core, axe-core on every page visited, screenshots at
// desktop and mobile widths. A scenario is one file in scenarios/ that
// exports `name` and a default async function({ page, h }).
import fs from 'node:fs';
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
    // One Chromium per scenario; each person in it is a browser context of
    // its own (its own cookies and storage, as a fresh profile would be),
    // which costs far less than launching another Chromium.
    this.browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
    this.context = await this.newContext();
    this.page = await this.context.newPage();
    this.watch(this.page);
    this.others = [];
    return this.page;
  }

  // newContext is a fresh browser context. Its waits default to 90 s
  // instead of 30: the scenarios run at once on a loaded machine, and a
  // wait that times out is a failure that says nothing of the pages.
  async newContext() {
    const context = await this.browser.newContext({ viewport: viewports.desktop, locale: 'it-IT' });
    context.setDefaultTimeout(90000);
    context.setDefaultNavigationTimeout(90000);
    return context;
  }

  // watch records a page's problems: console errors (a CSP refusal among
  // them) and failed loads of the server's own URLs. (A page answered with
  // an error status is logged as "Failed to load resource"; the scenarios
  // expect some, such as a form's 400.)
  watch(page, who = '') {
    const tag = who ? `[${who}] ` : '';
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) this.problems.push(`${tag}console: ${m.text().slice(0, 300)}`);
    });
    page.on('response', (r) => { if (r.status() === 404 && r.url().startsWith(this.base) && r.request().resourceType() !== 'document') this.problems.push(`${tag}HTTP 404: ${r.url()}`); });
    page.on('pageerror', (e) => this.problems.push(`${tag}page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      // An EventSource, or a script's fetch (the live queue's refresh of its
      // table), cut when its page navigates or closes is not a failure: the
      // scenarios navigate while the live queue may be refreshing.
      const cut = ['eventsource', 'fetch', 'xhr'].includes(r.resourceType()) && r.failure()?.errorText === 'net::ERR_ABORTED';
      if (r.url().startsWith(this.base) && !cut) {
        this.problems.push(`${tag}request failed: ${r.url()} ${r.failure()?.errorText}`);
      }
    });
    page.on('response', (r) => { if (r.url().startsWith(this.base) && r.status() >= 500) this.problems.push(`${tag}HTTP ${r.status()}: ${r.url()}`); });
  }

  // newBrowser opens a second, independent browser (a context of its own:
  // its own cookies and storage) for scenarios with two people at once;
  // its pages are watched like the first one's and it is closed by stop().
  async newBrowser(who) {
    const context = await this.newContext();
    this.others.push(context);
    const page = await context.newPage();
    this.watch(page, who);
    return page;
  }

  async stop() {
    for (const c of this.others || []) await c.close();
    await this.context?.close();
    await this.browser?.close();
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

  // loginStaff signs a member of staff in through the staff SSO login
  // (/auth/staff/login) and the development OP's identity picker
  // (operator-<department>, supervisor, admin), landing on returnTo.
  async loginStaff(identity, { page = this.page, returnTo = '/console/' } = {}) {
    await page.goto(this.url('/auth/staff/login?return_to=' + encodeURIComponent(returnTo)));
    await page.waitForURL(/\/dev-idp\//);
    const target = this.url(returnTo);
    await Promise.all([
      page.waitForURL((u) => u.href === target),
      page.locator(`form:has(input[name="identity"][value="${identity}"]) button`).click(),
    ]);
  }

  // checkPageOf is checkPage for a page of another browser (newBrowser).
  async checkPageOf(page, name) {
    const first = this.page;
    this.page = page;
    try { await this.checkPage(name); } finally { this.page = first; }
  }

  // sendRequest sends a request through the public web form as a citizen
  // who has not signed in, on page, and returns the case reference.
  async sendRequest(page, { name, email, topic, subject, message }) {
    await page.goto(this.url('/'));
    await page.getByLabel(/Nome e cognome/).fill(name);
    await page.getByLabel(/^E-mail/).fill(email);
    if (topic) await page.getByLabel('Argomento').selectOption({ label: topic });
    await page.getByLabel(/Oggetto/).fill(subject);
    await page.getByLabel(/Messaggio/).fill(message);
    await page.locator('label[for="f-privacy"]').click(); // bootstrap-italia draws the box on the label
    await page.getByRole('button', { name: 'Avanti' }).click();
    await page.getByRole('button', { name: 'Invia la richiesta' }).click();
    return (await page.locator('#reference').innerText({ timeout: 15000 })).trim();
  }

  expect(cond, what) {
    if (!cond) throw new Error(`expectation failed: ${what}`);
  }

  report() {
    fs.writeFileSync(path.join(this.dir, 'report.json'), JSON.stringify({ visited: this.visited, problems: this.problems }, null, 2));
  }
}
