// Headless Chromium for the flows, and what is checked on every page they visit: no console
// error, no uncaught exception, no Content-Security-Policy violation, no serious or critical
// axe-core finding; plus a screenshot of each page at a desktop and a phone width.
//
// The browser is Debian's /usr/bin/chromium driven by playwright-core, which never downloads a
// browser of its own.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { REPO } = require('./servers');

const EXECUTABLE = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
// E2E_SCREENSHOTS=docs/screenshots refreshes the committed gallery (scripts/e2e --gallery);
// by default they go to a git-ignored folder so an ordinary run changes no tracked file.
const SHOT_DIR = path.resolve(REPO, process.env.E2E_SCREENSHOTS || path.join('target', 'screenshots'));
const WIDTHS = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
];
// axe-core's own bundle, evaluated in the page through DevTools. A <script> tag would be
// refused by the page's CSP (script-src 'self'), and turning the CSP off for the whole context
// would hide the violations this suite is here to catch.
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// Reported in the page's console so the same listener that catches console errors sees it;
// the init script is injected by DevTools, so the CSP under test does not block it.
function reportCspViolations() {
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} in ${e.sourceFile}:${e.lineNumber}`);
  });
}

class Browser {
  // flow: a short name used for logs and screenshot files (client, admin, ...).
  static async launch(flow, { args = [] } = {}) {
    const browser = await chromium.launch({ executablePath: EXECUTABLE, args });
    return new Browser(flow, browser);
  }

  // A browser whose profile blocks every cookie (Chromium's own "Block all cookies" setting,
  // written into the profile's Preferences before start): it really refuses the session cookie.
  static async launchWithCookiesBlocked(flow) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-profile-'));
    fs.mkdirSync(path.join(profile, 'Default'));
    fs.writeFileSync(
      path.join(profile, 'Default', 'Preferences'),
      JSON.stringify({ profile: { default_content_setting_values: { cookies: 2 } } }),
    );
    const context = await chromium.launchPersistentContext(profile, { executablePath: EXECUTABLE, viewport: WIDTHS[0][1] });
    const browser = new Browser(flow, null);
    browser.persistent = { context, profile };
    await context.addInitScript(reportCspViolations);
    context.on('page', (page) => browser.watch(page));
    return browser;
  }

  constructor(flow, browser) {
    this.flow = flow;
    this.browser = browser;
    this.problems = []; // console errors, page errors and CSP violations, with their page
    this.axe = []; // every axe-core violation found, any impact
    this.shots = []; // {file, title} in the order taken, for the gallery
    this.allowedStatuses = new Set(); // HTTP error statuses a flow expects (see expectStatus)
  }

  // A fresh browser profile: cookies, storage and the virtual authenticator do not leak
  // between contexts.
  async newContext(options = {}) {
    if (this.persistent) return this.persistent.context;
    const context = await this.browser.newContext({ viewport: WIDTHS[0][1], ...options });
    await context.addInitScript(reportCspViolations);
    context.on('page', (page) => this.watch(page));
    return context;
  }

  async newPage(options = {}) {
    const context = await this.newContext(options);
    return context.newPage();
  }

  watch(page) {
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      // Chromium logs every 4xx/5xx document as "Failed to load resource". A flow that means to
      // reach an error page (Access Denied is a 403) says so; any other status still fails.
      const status = /the server responded with a status of (\d+)/.exec(text);
      if (status && this.allowedStatuses.has(Number(status[1]))) return;
      const source = message.location().url;
      this.problems.push(`${page.url()}: console error: ${text}${source ? ` (${source})` : ''}`);
    });
    page.on('pageerror', (error) => this.problems.push(`${page.url()}: uncaught ${error.message}`));
  }

  // The flow is about to open a page that answers with this status on purpose.
  expectStatus(status) {
    this.allowedStatuses.add(status);
  }

  // Checks the page the flow is on at each width: axe-core (layouts differ, and a table that
  // only scrolls on a phone is only then a scrollable region), and, unless shot is false (a
  // page already in the gallery), a screenshot.
  async check(page, slug, title, { shot = true } = {}) {
    await page.waitForLoadState('load');
    const base = `${this.flow}-${String(this.shots.length + 1).padStart(2, '0')}-${slug}`;
    if (shot) {
      fs.mkdirSync(SHOT_DIR, { recursive: true });
      this.shots.push({ file: base, title });
    }
    const original = page.viewportSize();
    for (const [label, size] of WIDTHS) {
      await page.setViewportSize(size);
      if (shot) {
        await page.screenshot({ path: path.join(SHOT_DIR, `${base}-${label}.jpg`), type: 'jpeg', quality: 70, fullPage: true });
      }
      await this.runAxe(page, `${slug} (${label})`);
    }
    await page.setViewportSize(original);
  }

  async runAxe(page, slug) {
    const loaded = await page.evaluate(() => typeof window.axe === 'object');
    if (!loaded) await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      this.axe.push({
        page: slug,
        url: page.url(),
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
      });
    }
  }

  // Called at the end of every flow: what was seen on its pages so far must be clean.
  assertClean() {
    const problems = this.problems.splice(0);
    const serious = this.axe.filter((v) => (v.impact === 'serious' || v.impact === 'critical') && !v.reported);
    for (const v of this.axe) v.reported = true;
    this.allowedStatuses.clear();
    assert.deepEqual(problems, [], 'console errors, uncaught exceptions or CSP violations');
    assert.deepEqual(serious, [], 'serious or critical axe-core violations');
  }

  async close() {
    if (this.persistent) {
      await this.persistent.context.close();
      fs.rmSync(this.persistent.profile, { recursive: true, force: true });
    } else {
      await this.browser.close();
    }
    // What the gallery needs (titles, order) and what axe found at any impact, for the record.
    if (this.shots.length > 0) {
      fs.writeFileSync(path.join(SHOT_DIR, `${this.flow}.json`), JSON.stringify(this.shots, null, 1));
    }
    const logDir = path.join(REPO, 'target', 'e2e-logs', this.flow);
    fs.mkdirSync(logDir, { recursive: true });
    fs.writeFileSync(path.join(logDir, 'axe.json'), JSON.stringify(this.axe, null, 1));
    const byImpact = {};
    for (const v of this.axe) byImpact[v.impact] = (byImpact[v.impact] || 0) + 1;
    console.log(`# ${this.flow}: ${this.shots.length} pages shot; axe violations by impact: ${JSON.stringify(byImpact)}`);
  }
}

module.exports = { Browser, SHOT_DIR };
