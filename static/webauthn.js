// Security keys and passkeys (WebAuthn) for Portcullis pages.
//
// A static file because the Content-Security-Policy allows no inline script. It drives every
// <form class="webauthn" data-options-url="..." data-finish-url="..." data-mode="register|authenticate">
// on the page. The form holds a hidden `csrf_token`, optionally a `name` text input (the key's
// name, register mode), a submit button and <p class="webauthn-error" role="alert" hidden>.
//
// On submit: POST {} (register: {"name": ...}) to the options URL; the answer is webauthn-rs's
// {"publicKey": {...}} with binary fields as base64url strings. Those become ArrayBuffers for
// navigator.credentials.create()/get(); the browser's answer is turned back into the JSON
// webauthn-rs reads (binary fields as base64url) and POSTed as {"credential": ..., "name": ...}
// to the finish URL, which answers {"redirect": "/somewhere"}.
'use strict';

(() => {
  // base64url (no padding) <-> ArrayBuffer. webauthn-rs writes and reads unpadded base64url.
  const toBuffer = (text) => {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };
  const toBase64url = (buffer) => {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const withBufferIds = (list) =>
    list ? list.map((descriptor) => ({ ...descriptor, id: toBuffer(descriptor.id) })) : list;

  // Messages for the DOMExceptions browsers raise; anything else gets the generic one.
  const DOM_MESSAGES = {
    NotAllowedError: 'The security key request was cancelled or timed out. Try again.',
    AbortError: 'The security key request was cancelled. Try again.',
    InvalidStateError: 'This security key is already registered.',
    SecurityError: 'Security keys cannot be used at this web address. Open the site at its usual address.',
    NotSupportedError: 'This security key is not supported. Try another one.',
  };
  const GENERIC = 'The security key could not be used. Try again.';

  // Shown in the form's alert element, as text (never HTML).
  class ShownError extends Error {}

  // POSTs JSON the way the server's CSRF check expects, and asks for JSON errors (the server
  // only answers errors as JSON when Accept prefers it over HTML).
  const post = async (url, token, body) => {
    let response;
    try {
      response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-CSRF-Token': token,
        },
        body: JSON.stringify(body),
      });
    } catch {
      throw new ShownError('The server could not be reached. Check your connection and try again.');
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      // Two error shapes: {"error": {"message": ...}} and {"message": ...} (where "error" may
      // be a code string).
      const nested = data && typeof data.error === 'object' && data.error ? data.error.message : null;
      const message = nested || (data && data.message);
      throw new ShownError(message || `The server refused the request (${response.status}). Try again.`);
    }
    if (!data) throw new ShownError(GENERIC);
    return data;
  };

  const register = async (options) => {
    const publicKey = {
      ...options.publicKey,
      challenge: toBuffer(options.publicKey.challenge),
      user: { ...options.publicKey.user, id: toBuffer(options.publicKey.user.id) },
      excludeCredentials: withBufferIds(options.publicKey.excludeCredentials),
    };
    const credential = await navigator.credentials.create({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        // Lets later sign-ins hint how to reach the key (USB, NFC, phone).
        transports: typeof response.getTransports === 'function' ? response.getTransports() : null,
      },
      extensions: {},
    };
  };

  const authenticate = async (options) => {
    const publicKey = {
      ...options.publicKey,
      challenge: toBuffer(options.publicKey.challenge),
      allowCredentials: withBufferIds(options.publicKey.allowCredentials),
    };
    const credential = await navigator.credentials.get({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
      extensions: {},
    };
  };

  const run = async (form) => {
    const registering = form.dataset.mode === 'register';
    const tokenField = form.elements.namedItem('csrf_token');
    const token = tokenField ? tokenField.value : '';
    const nameField = form.elements.namedItem('name');
    const name = registering && nameField ? nameField.value.trim() : undefined;
    if (!window.PublicKeyCredential || !navigator.credentials) {
      throw new ShownError('This browser does not support security keys. Use a current browser.');
    }
    const options = await post(form.dataset.optionsUrl, token, registering ? { name } : {});
    let credential;
    try {
      credential = registering ? await register(options) : await authenticate(options);
    } catch (error) {
      if (error instanceof DOMException) throw new ShownError(DOM_MESSAGES[error.name] || GENERIC);
      throw error;
    }
    const done = await post(form.dataset.finishUrl, token, { credential, name });
    if (typeof done.redirect !== 'string') throw new ShownError(GENERIC);
    window.location.assign(done.redirect);
  };

  const attach = (form) => {
    const alert = form.querySelector('.webauthn-error');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const buttons = form.querySelectorAll('button, input[type="submit"]');
      buttons.forEach((button) => { button.disabled = true; });
      if (alert) alert.hidden = true;
      try {
        await run(form);
      } catch (error) {
        if (!(error instanceof ShownError)) console.error(error);
        const message = error instanceof ShownError ? error.message : GENERIC;
        if (alert) {
          alert.textContent = message;
          alert.hidden = false;
        }
        // Re-enable only on failure; on success the page is being replaced.
        buttons.forEach((button) => { button.disabled = false; });
      }
    });
  };

  // Works whether the script is loaded with `defer`, at the end of <body>, or in <head>.
  const start = () => document.querySelectorAll('form.webauthn').forEach(attach);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
