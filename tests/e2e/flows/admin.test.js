// Admin-area flows in a real browser: signing in as an admin made with `portcullis admin
// create`, every page of the admin area, System Health with a failing check fixed by its button,
// Access Denied for a role without the permission (F08), and login as client with the
// impersonation banner and "Return to admin".
'use strict';

const assert = require('node:assert/strict');
const { describe, test, before, after, beforeEach } = require('node:test');
const { startPortcullis } = require('../lib/servers');
const { Browser } = require('../lib/browser');

describe('admin area', () => {
  let server;
  let browser;
  let page; // the Full Administrator's browser
  let alice;

  before(async () => {
    server = await startPortcullis('admin');
    browser = await Browser.launch('admin');
    page = await browser.newPage();
    alice = server.createAdmin('alice');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
  beforeEach(() => {
    browser.problems.length = 0;
  });

  async function adminSignIn(p, { username, password }) {
    await p.goto(server.url('/admin/login'));
    await p.getByLabel('Username').fill(username);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL((url) => url.pathname.startsWith('/admin') && url.pathname !== '/admin/login');
  }

  test('admin sign-in', async () => {
    await page.goto(server.url('/admin/login'));
    await browser.check(page, 'login', 'Admin sign-in');
    await adminSignIn(page, alice);
    assert.equal(new URL(page.url()).pathname, '/admin');
    assert.match(await page.getByRole('button', { name: /^Sign out/ }).textContent(), /alice/);
    await browser.check(page, 'dashboard', 'Admin dashboard');
    browser.assertClean();
  });

  test('every page of the admin area', async () => {
    const pages = [
      ['/admin/scheduler', 'scheduler', 'Scheduled tasks'],
      ['/admin/bans', 'bans', 'Banned addresses'],
      ['/admin/mail', 'mail', 'Mail log'],
      ['/admin/audit', 'audit', 'Audit log'],
      ['/admin/licenses', 'licenses', 'Licensing'],
      ['/admin/admins', 'admins', 'Admins'],
      ['/admin/roles', 'roles', 'Roles'],
      ['/admin/settings', 'settings', 'Settings'],
      ['/admin/two-factor', 'two-factor', 'Two-step verification settings'],
      ['/admin/sessions', 'sessions', 'Admin sessions'],
      ['/admin/account/password', 'password', 'Change the admin password'],
      ['/admin/account/security', 'security', "The admin's second factors"],
      ['/admin/proxy', 'proxy', 'Why this address'],
      ['/admin/forward-auth', 'forward-auth', 'Why was this request denied?'],
    ];
    for (const [route, slug, title] of pages) {
      const response = await page.goto(server.url(route));
      assert.equal(response.status(), 200, route);
      assert.equal(new URL(page.url()).pathname, route);
      await browser.check(page, slug, title);
    }
    // The forward-authentication question, asked in the form: no rules here, so denied.
    await page.getByLabel('URL the browser opened').fill('https://status.example.com/board');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.waitForURL((url) => url.searchParams.get('url') === 'https://status.example.com/board');
    assert.match(await page.textContent('#outcome'), /Denied: no rule covers this URL/);
    await browser.check(page, 'forward-auth-explained', 'Why was this request denied? (answered)');
    // The pages behind the lists: a role and an admin.
    await page.goto(server.url('/admin/roles'));
    await page.getByRole('link', { name: 'Support Operator' }).click();
    await page.waitForURL((url) => /^\/admin\/roles\/\d+$/.test(url.pathname));
    await browser.check(page, 'role-edit', 'A role and its permissions');
    await page.goto(server.url('/admin/admins'));
    await page.getByRole('link', { name: 'alice' }).click();
    await page.waitForURL((url) => /^\/admin\/admins\/\d+$/.test(url.pathname));
    await browser.check(page, 'admin-edit', 'An admin: role, disable, delete');
    // A licensed product, added with its defaults, then its own page (name, interval, grace,
    // reissues; the key prefix stays).
    await page.goto(server.url('/admin/licenses'));
    await page.getByLabel('Product name').fill('Hosting Panel');
    await page.getByLabel('Key prefix (2 to 10 letters or digits)').fill('PANEL');
    await page.getByRole('button', { name: 'Add product' }).click();
    await page.getByRole('link', { name: 'Hosting Panel' }).click();
    await page.waitForURL((url) => /^\/admin\/licenses\/products\/\d+$/.test(url.pathname));
    assert.equal(await page.getByLabel('Maximum reissues (empty: 3)').inputValue(), '3');
    await browser.check(page, 'product-edit', 'A licensed product: interval, grace, reissues');
    await page.getByLabel('Maximum reissues (empty: 3)').fill('5');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.waitForLoadState();
    await page.goto(server.url('/admin/licenses'));
    assert.match(await page.textContent('main'), /at most 5/);
    // The invitation form asks for a role and assumes none.
    await page.goto(server.url('/admin/admins'));
    assert.equal(await page.getByLabel('Role').inputValue(), '');
    browser.assertClean();
  });

  test('System Health: a failing check and its fix button', async () => {
    // A visitor arrives through Cloudflare (its CF-Ray header) while Cloudflare's ranges are not
    // trusted: the doctor's proxy.cloudflare check fails and offers its one-step fix.
    const visitor = await browser.newContext({ extraHTTPHeaders: { 'CF-Ray': '8a1b2c3d4e5f6789-LHR' } });
    await (await visitor.newPage()).goto(server.url('/login'));
    await visitor.close();

    await page.goto(server.url('/admin/health'));
    const finding = page.locator('section.finding', { has: page.locator('#check-proxy\\.cloudflare') });
    assert.match(await finding.getAttribute('class'), /sev-error/);
    await browser.check(page, 'health', 'System Health with a failing check and its fix button');
    await finding.getByRole('button', { name: "Trust Cloudflare's ranges now" }).click();
    await page.waitForURL((url) => url.pathname === '/admin/health' && url.searchParams.get('fixed') === 'proxy.cloudflare');
    assert.match(await page.locator('.notice').textContent(), /Applied the fix for proxy\.cloudflare/);
    assert.match(await finding.getAttribute('class'), /sev-ok/);
    assert.equal(await finding.getByRole('button').count(), 0, 'nothing left to fix');
    await browser.check(page, 'health-fixed', 'System Health after the fix');
    browser.assertClean();
  });

  test('F08: Access Denied names the action, the permission and the role', async () => {
    const sam = server.createAdmin('sam', 'Sales Operator');
    const context = await browser.newContext();
    const p = await context.newPage();
    await adminSignIn(p, sam);
    browser.expectStatus(403);
    const response = await p.goto(server.url('/admin/health'));
    assert.equal(response.status(), 403);
    const text = await p.textContent('main');
    assert.match(text, /view_system_health/);
    assert.match(text, /Sales Operator/);
    await browser.check(p, 'access-denied', 'Access Denied: what was refused and who can grant it');
    await context.close();
    browser.assertClean();
  });

  test('login as client: the impersonation banner and Return to admin', async () => {
    const owner = server.createUser('owner@example.com', 'Olivia', 'Owner');
    await page.goto(server.url('/admin/clients'));
    await browser.check(page, 'clients', 'Client accounts');
    await page.getByRole('row', { name: new RegExp(owner.email) }).getByRole('link').click();
    await page.waitForURL((url) => /^\/admin\/clients\/\d+$/.test(url.pathname));
    const clientPage = page.url();
    await browser.check(page, 'client', 'A client account, with Log in as the owner');

    // Signing in as a client needs a fresh step-up of the admin's own session.
    await page.goto(server.url('/admin/account/security'));
    await page.locator('#confirm-password').fill(alice.password);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('p.notice').waitFor();
    await page.goto(clientPage);
    await page.getByRole('button', { name: 'Log in as the owner' }).click();
    await page.waitForURL((url) => url.pathname === '/clientarea');
    const banner = page.locator('#impersonation-banner');
    assert.match(await banner.textContent(), /You \(alice\) are signed in as/);
    assert.match(await banner.textContent(), /Olivia/);
    assert.equal(await page.textContent('h1'), 'Welcome, Olivia');
    await browser.check(page, 'impersonating', 'Signed in as a client, with the impersonation banner');

    // Credentials stay out of reach while impersonating.
    browser.expectStatus(403);
    await page.goto(server.url('/account/password'));
    assert.notEqual(await page.locator('#password').count(), 1, 'no password form while impersonating');
    await page.goto(server.url('/clientarea'));

    await banner.getByRole('button', { name: 'Return to admin' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin'));
    assert.equal(page.url(), clientPage, 'back on the client account the visit started from');
    assert.equal(await page.locator('#impersonation-banner').count(), 0);
    await page.goto(server.url('/clientarea'));
    assert.equal(new URL(page.url()).pathname, '/login', 'the client session ended with the visit');
    browser.assertClean();
  });
});
