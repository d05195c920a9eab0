// Authenticator-app codes from oathtool, an independent TOTP implementation.
'use strict';

const { execFileSync } = require('node:child_process');

// oathtool's code for `secret` at an instant. Portcullis refuses a time step already used (a
// replayed code) and accepts one step either way, so a sign-in right after enrolment takes the
// code of the next step (what the app shows 30 s later) instead of waiting for the clock.
function totp(secret, offsetSeconds = 0) {
  const at = Math.floor(Date.now() / 1000) + offsetSeconds;
  return execFileSync('oathtool', ['--totp', '-b', '-N', `@${at}`, secret], { encoding: 'utf8' }).trim();
}

module.exports = { totp };
