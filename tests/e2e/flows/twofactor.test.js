// Second factors in a real browser: an authenticator app enrolled and used with codes from
// oathtool (an independent TOTP implementation), and a security key registered and used through
// Chromium's virtual authenticator (DevTools WebAuthn domain), so the page's own
// /static/webauthn.js and the browser's WebAuthn stack do the ceremony.
'use strict';

const assert = require('node:assert/strict');
const { describe, test, before, after, beforeEach } = require('node:test');
const { startPortcullis } = require('../lib/servers');
const { Browser } = require('../lib/browser');
const { totp } = require('../lib/totp');
const { submitSignIn, openAuthenticatorSetup } = require('../lib/steps');

describe('two-step verification', () => {
  let server;
  let browser;

  before(async () => {
    server = await startPortcullis('twofactor');
    browser = await Browser.launch('twofactor');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
  beforeEach(() => {
    browser.problems.length = 0;
  });

  test('authenticator app: enrol with a code from oathtool, then sign in with one', async () => {
    const user = server.createUser('tina@example.com', 'Tina', 'Turing');
    const page = await browser.newPage();
    await page.goto(server.url('/login'));
    await submitSignIn(page, user);
    await page.waitForURL((url) => url.pathname === '/clientarea');

    await openAuthenticatorSetup(page, server, user);
    assert.equal(await page.locator('.qr svg').count(), 1, 'the QR code is drawn');
    await browser.check(page, 'totp-setup', 'Set up an authenticator app: QR code and key');
    const secret = (await page.textContent('#totp-secret')).replace(/\s/g, '');

    // A wrong code is refused on the same page, which keeps the same key.
    browser.expectStatus(400);
    const wrong = String((Number(totp(secret)) + 500000) % 1000000).padStart(6, '0');
    await page.getByLabel('6-digit code').fill(wrong);
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForSelector('#totp-error');
    assert.equal((await page.textContent('#totp-secret')).replace(/\s/g, ''), secret);
    await browser.check(page, 'totp-wrong-code', 'A wrong code during set-up');

    await page.getByLabel('6-digit code').fill(totp(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForSelector('.codes li');
    assert.equal(await page.locator('.codes li').count(), 10, 'ten backup codes, shown once');
    await browser.check(page, 'backup-codes', 'Backup codes shown after the first factor');

    await page.getByRole('button', { name: /^Sign out/ }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    await submitSignIn(page, user);
    await page.waitForURL((url) => url.pathname === '/login/2fa');
    await browser.check(page, 'challenge', 'The second step of sign-in');
    await page.getByLabel('Code from your authenticator app').fill(totp(secret, 30));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((url) => url.pathname === '/clientarea');
    assert.equal(await page.textContent('h1'), 'Welcome, Tina');
    await page.context().close();
    browser.assertClean();
  });

  test('security key: register with the virtual authenticator, then sign in with it', async () => {
    const admin = server.createAdmin('kim');
    const context = await browser.newContext();
    const page = await context.newPage();
    // A platform authenticator with user verification that answers at once, as a passkey would.
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    const signIn = async () => {
      await page.goto(server.url('/admin/login'));
      await page.getByLabel('Username').fill(admin.username);
      await page.getByLabel('Password').fill(admin.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    };
    await signIn();
    await page.waitForURL((url) => url.pathname === '/admin');
    await page.goto(server.url('/admin/account/security'));
    await browser.check(page, 'admin-security', 'Admin security page: confirm it is you first');
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForSelector('#key-name');
    await browser.check(page, 'admin-security-unlocked', 'Admin security page after the password step-up');

    await page.getByLabel('Name of the new key').fill('Laptop passkey');
    await page.getByRole('button', { name: 'Add a security key' }).click();
    await page.getByRole('cell', { name: 'Laptop passkey' }).waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1, 'the authenticator holds the new credential');
    assert.equal(credentials[0].rpId, 'localhost', 'bound to the System URL host');
    await browser.check(page, 'admin-security-key', 'A registered security key');

    await page.getByRole('button', { name: /^Sign out/ }).click();
    await page.waitForURL((url) => url.pathname === '/admin/login');
    await signIn();
    await page.waitForURL((url) => url.pathname === '/admin/login/2fa');
    await browser.check(page, 'admin-challenge', 'Admin second step with a security key');
    await page.getByRole('button', { name: 'Use a security key' }).click();
    await page.waitForURL((url) => url.pathname === '/admin');
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(after.credentials[0].signCount > credentials[0].signCount, 'the key signed the sign-in');
    assert.match(await page.getByRole('button', { name: /^Sign out/ }).textContent(), /kim/);
    await context.close();
    browser.assertClean();
  });
});
