// F06 in a real browser: a browser that refuses the session cookie, and one on plain http to an
// https portal (a Secure cookie it would not keep), get the page explaining the lost cookie,
// never a redirect back to the sign-in page. Also a check of
// this suite's own checks: on a real Portcullis page, a script the CSP forbids and an input
// without a label are caught, so "no violation" elsewhere means something.
'use strict';

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');
const { startPortcullis } = require('../lib/servers');
const { Browser } = require('../lib/browser');

describe('F06 and the checks themselves', () => {
  let server;

  before(async () => {
    server = await startPortcullis('f06');
  });
  after(async () => {
    await server?.stop();
  });

  test('F06: a browser that refuses the session cookie gets the cookie-loss page, not a loop', async () => {
    const user = server.createUser('ada@example.com', 'Ada', 'Lovelace');
    const browser = await Browser.launchWithCookiesBlocked('f06');
    try {
      const page = await browser.newPage();
      // Every document the browser loads; a loop would show /login again and again.
      const documents = [];
      page.on('response', (r) => {
        if (r.request().resourceType() === 'document') documents.push(`${r.status()} ${new URL(r.url()).pathname}`);
      });
      await page.goto(server.url('/login'));
      await page.getByLabel('Email address').fill(user.email);
      await page.getByLabel('Password', { exact: true }).fill(user.password);
      browser.expectStatus(400);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/clientarea');
      await page.waitForLoadState('load');
      assert.equal(await page.textContent('h1'), 'Your browser did not keep the sign-in cookie');
      assert.match(await page.textContent('main'), /Cookies are blocked for this site/);
      assert.deepEqual(documents, ['200 /login', '303 /login', '400 /clientarea'], 'one sign-in, one explanation, no loop');
      assert.deepEqual(await page.context().cookies(), [], 'the browser really kept no cookie');
      await browser.check(page, 'cookie-loss', 'F06: the browser did not send the session cookie back');
      browser.assertClean();
    } finally {
      await browser.close();
    }
  });

  test('F06: a Secure cookie over plain http gets the cookie-loss page, not a loop', async () => {
    // An https portal whose proxy also passes plain http through and says "https" either way.
    // portal.test is not loopback, so Chromium treats http://portal.test as insecure and will
    // not keep a Secure cookie there; the browser sends the proxy's header itself.
    const portal = await startPortcullis('f06-secure', { systemUrl: (port) => `https://portal.test:${port}/` });
    const browser = await Browser.launch('f06-secure', { args: ['--host-resolver-rules=MAP portal.test 127.0.0.1'] });
    try {
      const user = portal.createUser('ada@example.com', 'Ada', 'Lovelace');
      const page = await browser.newPage({ extraHTTPHeaders: { 'X-Forwarded-Proto': 'https' } });
      const documents = [];
      page.on('response', (r) => {
        if (r.request().resourceType() === 'document') documents.push(`${r.status()} ${new URL(r.url()).pathname}`);
      });
      await page.goto(`http://portal.test:${portal.port}/login`);
      await page.getByLabel('Email address').fill(user.email);
      await page.getByLabel('Password', { exact: true }).fill(user.password);
      browser.expectStatus(400);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState('load');
      assert.equal(await page.textContent('h1'), 'Your browser did not keep the sign-in cookie');
      assert.match(await page.textContent('main'), /reached over plain http/);
      assert.deepEqual(documents, ['200 /login', '400 /login'], 'one sign-in, one explanation, no loop');
      await browser.check(page, 'secure-cookie-over-http', 'F06: a Secure cookie over plain http', { shot: false });
      // Chromium reports, as a console error, that it ignores the Cross-Origin-Opener-Policy
      // header on an insecure origin: that is this deliberately broken set-up, not a page fault.
      browser.problems = browser.problems.filter((p) => !/Cross-Origin-Opener-Policy/.test(p));
      browser.assertClean();
    } finally {
      await browser.close();
      await portal.stop();
    }
  });

  test('the checks catch a CSP violation and an unlabelled input', async () => {
    const browser = await Browser.launch('selfcheck');
    try {
      const page = await browser.newPage();
      await page.goto(server.url('/login'));
      await page.evaluate(() => {
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true;';
        document.body.append(script);
        document.querySelector('main').append(document.createElement('input'));
      });
      await browser.runAxe(page, 'login with an unlabelled input');
      assert.equal(await page.evaluate(() => window.inlineRan), undefined, 'the CSP blocked the inline script');
      await page.waitForTimeout(100); // the violation event is delivered asynchronously
      assert.ok(browser.problems.some((p) => /CSP violation: script-src/.test(p)), browser.problems.join('\n'));
      assert.ok(browser.axe.some((v) => v.id === 'label' && v.impact === 'critical'), JSON.stringify(browser.axe));
      assert.throws(() => browser.assertClean());
    } finally {
      await browser.close();
    }
  });
});
