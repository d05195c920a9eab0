// Steps several flows take the same way in the client area.
'use strict';

// Types the person's email address and password into the sign-in form on the page and sends
// it; where the browser lands is the flow's to check.
async function submitSignIn(page, user) {
  await page.getByLabel('Email address').fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// From a signed-in page: the security page, the password step-up, then "Set up an
// authenticator app"; resolves on the set-up page.
async function openAuthenticatorSetup(page, server, user) {
  await page.goto(server.url('/account/security'));
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('link', { name: 'Set up an authenticator app' }).click();
  await page.waitForURL((url) => url.pathname === '/account/security/totp');
}

// Signs in, turns on an authenticator app (its first code from oathtool) and signs out again;
// resolves with the app's secret and the first backup code, on the sign-in page.
async function enrolAuthenticator(page, server, user) {
  const { totp } = require('./totp');
  await page.goto(server.url('/login'));
  await submitSignIn(page, user);
  await page.waitForURL((url) => url.pathname === '/clientarea');
  await openAuthenticatorSetup(page, server, user);
  const secret = (await page.textContent('#totp-secret')).replace(/\s/g, '');
  await page.getByLabel('6-digit code').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.waitForSelector('.codes li');
  const backupCode = (await page.locator('.codes li').first().textContent()).trim();
  await page.getByRole('button', { name: /^Sign out/ }).click();
  await page.waitForURL((url) => url.pathname === '/login');
  return { secret, backupCode };
}

module.exports = { submitSignIn, openAuthenticatorSetup, enrolAuthenticator };
