// Forward authentication through real nginx (issue 20 item 6). The portal is
// portal.example.com and the protected tool status.example.com, both resolved to loopback by
// Chromium's --host-resolver-rules, with the session cookie on the parent domain example.com.
// In Chromium: a person opens the protected page, is sent to sign in at the portal with a
// password and an authenticator code (oathtool's), lands back on the page they opened with the
// identity nginx passed on, signs out at the portal, and is sent to sign in again.
'use strict';

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');
const { startPortcullis } = require('../lib/servers');
const { startNginx } = require('../lib/nginx');
const { Browser } = require('../lib/browser');
const { totp } = require('../lib/totp');
const { submitSignIn, enrolAuthenticator } = require('../lib/steps');

describe('forward authentication behind nginx', () => {
  let server;
  let nginx;
  let browser;

  before(async () => {
    server = await startPortcullis('forward-auth', {
      systemUrl: (port) => `http://portal.example.com:${port}/`,
      config: [
        '[forward_auth]',
        'cookie_domain = "example.com"',
        'rules = ["status.example.com /public bypass", "status.example.com / client"]',
      ].join('\n'),
    });
    nginx = await startNginx({ name: 'forward-auth', portal: server.port });
    browser = await Browser.launch('forward-auth', {
      args: ['--host-resolver-rules=MAP portal.example.com 127.0.0.1, MAP status.example.com 127.0.0.1'],
    });
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await server?.stop();
  });

  test('open the protected page, sign in with a second factor, land back on it; sign out, be refused', async () => {
    const user = server.createUser('nora@example.com', 'Nora', 'Quist');
    // The protected host's certificate is this run's own.
    const page = await browser.newPage({ ignoreHTTPSErrors: true });

    // An authenticator app first, on the person's security page.
    const { secret } = await enrolAuthenticator(page, server, user);

    // The bypass path opens for anyone, with no identity.
    await page.goto(`${nginx.base}/public/about`);
    assert.equal(await page.textContent('#path'), '/public/about');
    assert.equal(await page.textContent('#remote-user'), '');

    // The protected page: nginx asks Portcullis, which sends the browser to sign in.
    const board = `${nginx.base}/board?tab=incidents`;
    await page.goto(board);
    await page.waitForURL((url) => url.origin === new URL(server.systemUrl).origin && url.pathname === '/login');
    await browser.check(page, 'signin', 'Signing in for a page behind nginx', { shot: false });
    await submitSignIn(page, user);
    await page.waitForURL((url) => url.pathname === '/login/2fa');
    await page.getByLabel('Code from your authenticator app').fill(totp(secret, 30));
    await page.getByRole('button', { name: 'Verify' }).click();

    // Back on the page first opened, with who it is from Portcullis's answer.
    await page.waitForURL(board);
    const seen = async (header) => (await page.textContent(`#${header}`)).trim();
    assert.equal(await seen('path'), '/board?tab=incidents');
    assert.equal(await seen('remote-user'), 'nora@example.com');
    assert.equal(await seen('remote-email'), 'nora@example.com');
    assert.equal(await seen('remote-name'), 'Nora Quist');
    assert.match(await seen('remote-subject'), /^client:\d+$/);
    assert.match(await seen('remote-account'), /^\d+$/);
    assert.match(await seen('remote-permissions'), /invoices/, 'an owner holds every permission');
    assert.equal(await seen('remote-groups'), '', 'no admin realm here');
    await browser.check(page, 'upstream', 'The protected page behind nginx, with the identity headers');

    // Signing out at the portal ends access on the protected host at once.
    await page.goto(server.url('/clientarea'));
    await page.getByRole('button', { name: /^Sign out/ }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    await page.goto(board);
    await page.waitForURL((url) => url.origin === new URL(server.systemUrl).origin && url.pathname === '/login');
    assert.notEqual(new URL(page.url()).host, new URL(nginx.base).host, `still let in:\n${nginx.errorLog()}`);
    browser.assertClean();
  });
});
