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

module.exports = { submitSignIn, openAuthenticatorSetup };
