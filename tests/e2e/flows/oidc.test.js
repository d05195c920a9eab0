// Portcullis as an OpenID provider for a relying party written by others: Apache httpd with
// mod_auth_openidc protects a page. In Chromium: an admin registers the application on the
// admin page; a person opens the protected page, signs in at Portcullis with a password and an
// authenticator code (oathtool's), allows the application, and lands on the page, which shows
// the claims mod_auth_openidc passed on. Signing out at the portal sends a back-channel logout
// token that ends mod_auth_openidc's session: the protected page asks for a sign-in again.
'use strict';

const assert = require('node:assert/strict');
const { describe, test, before, after, beforeEach } = require('node:test');
const { startPortcullis, freePort } = require('../lib/servers');
const { startApache } = require('../lib/apache');
const { Browser } = require('../lib/browser');
const { totp } = require('../lib/totp');
const { submitSignIn, enrolAuthenticator } = require('../lib/steps');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('OpenID provider with Apache mod_auth_openidc', () => {
  let server;
  let browser;
  let apache;
  let admin;
  let adminPage;
  let applicationPath;
  let user;
  let backupCode; // for the second sign-in: the authenticator's next code is already used

  before(async () => {
    server = await startPortcullis('oidc');
    browser = await Browser.launch('oidc');
    admin = server.createAdmin('olga');
  });
  after(async () => {
    await browser?.close();
    await apache?.stop();
    await server?.stop();
  });
  beforeEach(() => {
    browser.problems.length = 0;
  });

  test('an admin registers the application and Apache starts with its secret', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}/protected`;
    adminPage = await browser.newPage();
    await adminPage.goto(server.url('/admin/login'));
    await adminPage.getByLabel('Username').fill(admin.username);
    await adminPage.getByLabel('Password').fill(admin.password);
    await adminPage.getByRole('button', { name: 'Sign in' }).click();
    await adminPage.waitForURL((url) => url.pathname === '/admin');

    await adminPage.goto(server.url('/admin/oidc/applications'));
    await browser.check(adminPage, 'applications', 'OpenID Connect applications: the list and the form');
    await adminPage.getByLabel('Name (shown to people signing in)').fill('Team wiki');
    await adminPage.getByLabel(/^Redirect URIs/).fill(`${base}/redirect_uri`);
    await adminPage.getByLabel(/^Post-logout redirect URIs/).fill(`http://127.0.0.1:${port}/`);
    await adminPage.getByLabel(/^Back-channel logout URI/).fill(`${base}/redirect_uri?logout=backchannel`);
    await adminPage.getByRole('button', { name: 'Create application' }).click();
    await adminPage.waitForSelector('#client-secret');
    await browser.check(adminPage, 'secret', 'A new application: its secret, shown once');
    const clientId = (await adminPage.textContent('#client-id')).trim();
    const clientSecret = (await adminPage.textContent('#client-secret')).trim();
    assert.equal((await adminPage.textContent('#discovery-url')).trim(), server.url('/.well-known/openid-configuration'));
    await adminPage.getByRole('link', { name: "Go to the application's page" }).click();
    await adminPage.waitForURL((url) => /^\/admin\/oidc\/applications\/\d+$/.test(url.pathname));
    applicationPath = new URL(adminPage.url()).pathname;

    apache = await startApache({ name: 'oidc', port, issuer: server.systemUrl, clientId, clientSecret });
    assert.equal(apache.redirectUri, `${base}/redirect_uri`);
    browser.assertClean();
  });

  test('sign in to the protected page with a second factor and consent; signing out at the portal ends it', async () => {
    assert.ok(apache, 'Apache runs (the previous test)');
    user = server.createUser('rita@example.com', 'Rita', 'Levi');
    const page = await browser.newPage();

    // An authenticator app first, on the person's security page.
    const enrolled = await enrolAuthenticator(page, server, user);
    const { secret } = enrolled;
    backupCode = enrolled.backupCode;

    // The protected page sends the browser to Portcullis, which asks for a sign-in.
    await page.goto(apache.url);
    await page.waitForURL((url) => url.origin === new URL(server.systemUrl).origin && url.pathname === '/login');
    await browser.check(page, 'signin-for-application', 'Signing in for an application');
    await submitSignIn(page, user);
    await page.waitForURL((url) => url.pathname === '/login/2fa');
    await page.getByLabel('Code from your authenticator app').fill(totp(secret, 30));
    await page.getByRole('button', { name: 'Verify' }).click();

    // First use: the consent page names the application and what it will learn.
    await page.waitForSelector('#consent-allow');
    assert.equal(await page.textContent('h1'), 'Allow Team wiki to sign you in?');
    await browser.check(page, 'consent', 'Consent at first use');
    await page.getByRole('button', { name: 'Allow', exact: true }).click();

    // Back at Apache, on the page mod_auth_openidc protects, with the claims it passed on.
    await page.waitForURL(apache.url);
    const claim = async (name) => (await page.textContent(`#claim-${name}`)).trim();
    assert.equal(await claim('email'), 'rita@example.com');
    assert.equal(await page.textContent('#remote-user'), 'rita@example.com');
    assert.match(await claim('sub'), /^client:/);
    assert.notEqual(await claim('sub'), 'rita@example.com', 'sub is never the email');
    assert.equal(await claim('given_name'), 'Rita');
    assert.equal(await claim('family_name'), 'Levi');
    assert.match(await claim('amr'), /otp/, 'the authenticator code is in amr');
    assert.match(await claim('amr'), /mfa/);
    assert.notEqual(await claim('sid'), '');

    // The person's security page lists the application they allowed.
    await page.goto(server.url('/account/security'));
    assert.match(await page.textContent('main'), /Team wiki/);

    // Signing out at the portal: Portcullis's sender posts a logout token to Apache, which
    // drops its session, so the protected page sends the browser back to sign in.
    await page.goto(server.url('/clientarea'));
    await page.getByRole('button', { name: /^Sign out/ }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    let landed = '';
    for (let i = 0; i < 30; i++) {
      await page.goto(apache.url);
      landed = page.url();
      if (new URL(landed).origin !== new URL(apache.url).origin) break;
      await sleep(1000);
    }
    assert.equal(new URL(landed).origin, new URL(server.systemUrl).origin, `still signed in to Apache:\n${apache.errorLog()}`);
    assert.equal(new URL(landed).pathname, '/login');

    // The delivery and Apache's answer are on the application's admin page.
    await adminPage.goto(server.url(applicationPath));
    const deliveries = await adminPage.textContent('main');
    assert.match(deliveries, /sent/);
    assert.match(deliveries, /HTTP 200/);
    await browser.check(adminPage, 'application', "An application's page with its logout deliveries");
    browser.assertClean();
  });

  test('signing out at Apache ends the portal session too (RP-initiated logout)', async () => {
    assert.ok(user && backupCode, 'the previous test enrolled the person');
    const page = await browser.newPage();
    await page.goto(apache.url);
    await page.waitForURL((url) => url.pathname === '/login');
    await submitSignIn(page, user);
    await page.waitForURL((url) => url.pathname === '/login/2fa');
    await page.getByLabel('Backup code').fill(backupCode);
    await page.getByRole('button', { name: 'Use backup code' }).click();
    // The backup-code notice, then straight back: the consent is remembered.
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(apache.url);
    assert.equal((await page.textContent('#claim-email')).trim(), user.email);

    // mod_auth_openidc ends its session and sends the browser to the end-session endpoint
    // with the ID token as the hint, which ends the portal session without asking and
    // returns to the registered post-logout URI.
    await page.goto(apache.logoutUrl);
    await page.waitForURL(apache.home);
    assert.equal(await page.textContent('h1'), 'Signed out of the wiki');
    await page.goto(server.url('/clientarea'));
    assert.equal(new URL(page.url()).pathname, '/login', 'the portal session ended');
    await page.goto(apache.url);
    assert.equal(new URL(page.url()).pathname, '/login', 'and the Apache session');
    browser.assertClean();
  });
});
