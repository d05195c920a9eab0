// Client-area flows in a real browser: registration (which signs nobody in) with the emailed
// confirmation link, signing out and in (with the keyboard alone), every page of the client area,
// password reset from the emailed link, and F05 (the sign-in page opened on another host lands
// on the System URL).
'use strict';

const assert = require('node:assert/strict');
const { describe, test, before, after, beforeEach } = require('node:test');
const { startPortcullis, strongPassword } = require('../lib/servers');
const { Browser } = require('../lib/browser');

describe('client area', () => {
  let server;
  let browser;
  let page; // one browser profile for the person who registers
  const person = { first: 'Ada', last: 'Lovelace', email: 'ada@example.com', password: strongPassword() };

  before(async () => {
    server = await startPortcullis('client');
    browser = await Browser.launch('client');
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
  // A flow that failed half-way must not hand its leftovers to the next one.
  beforeEach(() => {
    browser.problems.length = 0;
  });

  async function signIn(p, email, password) {
    await p.getByLabel('Email address').fill(email);
    await p.getByLabel('Password', { exact: true }).fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
  }

  test('register, confirm the email address from the message, sign out, sign in with the keyboard', async () => {
    await page.goto(server.url('/register'));
    await browser.check(page, 'register', 'Create an account');

    // A weak password is refused with the error beside its field, and nothing else is lost.
    await page.getByLabel('First name').fill(person.first);
    await page.getByLabel('Last name').fill(person.last);
    await page.getByLabel('Email address').fill(person.email);
    await page.getByLabel('Password', { exact: true }).fill('password123');
    await page.getByLabel('Repeat the password').fill('password123');
    browser.expectStatus(422);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForSelector('#password-error');
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.match(await page.getAttribute('#password', 'aria-describedby'), /password-error/);
    assert.equal(await page.getByLabel('Email address').inputValue(), person.email);
    await browser.check(page, 'register-errors', 'Registration with a refused password: the error stands beside its field');

    await page.getByLabel('Password', { exact: true }).fill(person.password);
    await page.getByLabel('Repeat the password').fill(person.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    // Registering signs nobody in and answers the same for a taken address (issue 18 item 11).
    await page.waitForSelector('h1:has-text("Check your inbox")');

    // Signed in before confirming: the client area asks for the confirmation.
    await page.goto(server.url('/login'));
    await signIn(page, person.email, person.password);
    await page.waitForURL((url) => url.pathname === '/clientarea');
    assert.match(await page.textContent('main'), /Please confirm your email address/);
    await browser.check(page, 'clientarea-unconfirmed', 'Client area before the email address is confirmed');

    const link = await server.mailedLink(person.email, '/verify-email/');
    await page.goto(link);
    assert.equal(await page.textContent('h1'), 'Your email address is confirmed');
    await browser.check(page, 'email-confirmed', 'The confirmation link opened');

    await page.goto(server.url('/clientarea'));
    assert.doesNotMatch(await page.textContent('main'), /Please confirm your email address/);
    assert.equal(await page.textContent('h1'), `Welcome, ${person.first}`);
    await browser.check(page, 'clientarea', 'Client area home');

    await page.getByRole('button', { name: /^Sign out/ }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    await browser.check(page, 'signed-out', 'Signed out: the sign-in page');
    await page.goto(server.url('/clientarea'));
    assert.equal(new URL(page.url()).pathname, '/login', 'the client area needs a session again');

    // Keyboard only: the email field has focus on arrival, Tab reaches the password, Enter sends.
    assert.equal(await page.evaluate(() => document.activeElement.id), 'email');
    await page.keyboard.type(person.email);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'password');
    // The focused field is visibly marked (the stylesheet's :focus-visible outline).
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none');
    await page.keyboard.type(person.password);
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.pathname === '/clientarea');
    assert.equal(await page.textContent('h1'), `Welcome, ${person.first}`);
    browser.assertClean();
  });

  test('every page of the client area', async () => {
    const pages = [
      ['/account/sessions', 'sessions', 'Your sessions'],
      ['/account/users', 'users', 'Users of the account'],
      ['/account/licenses', 'licenses', 'Licences'],
      ['/account/profile', 'profile', 'Account profile'],
      ['/account/switch', 'switch', 'Accounts'],
      ['/account/email', 'email', 'Change the email address'],
      ['/account/password', 'password', 'Change the password'],
      ['/account/security', 'security', 'Two-step verification'],
    ];
    for (const [route, slug, title] of pages) {
      const response = await page.goto(server.url(route));
      assert.equal(response.status(), 200, route);
      assert.equal(new URL(page.url()).pathname, route);
      await browser.check(page, slug, title);
    }
    browser.assertClean();
  });

  test('password reset from the emailed link', async () => {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(server.url('/login'));
    await p.getByRole('link', { name: 'Forgot your password?' }).click();
    await p.waitForURL((url) => url.pathname === '/password/reset');
    await browser.check(p, 'reset-request', 'Request a password reset link');
    await p.getByLabel('Email address').fill(person.email);
    await p.getByRole('button', { name: 'Send the link' }).click();
    await p.waitForSelector('.notice');
    await browser.check(p, 'reset-requested', 'Reset link requested');

    const link = await server.mailedLink(person.email, '/password/reset/');
    await p.goto(link);
    await browser.check(p, 'reset-form', 'Choose a new password');
    const newPassword = strongPassword();
    await p.getByLabel('New password', { exact: true }).fill(newPassword);
    await p.getByLabel('Repeat the new password').fill(newPassword);
    await p.getByRole('button', { name: 'Set the new password' }).click();
    await p.waitForLoadState('load');
    await browser.check(p, 'reset-done', 'After setting the new password');

    // The old password no longer works; the new one does.
    await p.goto(server.url('/login'));
    browser.expectStatus(401);
    await signIn(p, person.email, person.password);
    await p.waitForSelector('#login-error');
    await browser.check(p, 'login-error', 'Sign-in refused');
    await signIn(p, person.email, newPassword);
    await p.waitForURL((url) => url.pathname === '/clientarea');
    person.password = newPassword;
    await context.close();
    browser.assertClean();
  });

  test('F05: the sign-in page opened on another host lands on the System URL and signing in works', async () => {
    const user = server.createUser('grace@example.com');
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(`http://127.0.0.1:${server.port}/login`);
    assert.equal(p.url(), server.url('/login'), 'redirected to the System URL');
    await browser.check(p, 'login', 'Sign in');
    await signIn(p, user.email, user.password);
    await p.waitForURL((url) => url.pathname === '/clientarea');
    assert.equal(new URL(p.url()).host, `localhost:${server.port}`);
    assert.equal(await p.textContent('h1'), `Welcome, ${user.firstName}`);
    await context.close();
    browser.assertClean();
  });
});
