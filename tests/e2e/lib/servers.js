// The real processes a browser flow talks to: the Portcullis debug binary (`portcullis serve`
// with its own temporary data folder, SQLite and configuration file) and the SMTP server of the
// Rust tests (tests/smtp/server.py, aiosmtpd), whose N.eml files are where the flows read the
// links Portcullis mails. Nothing here imitates Portcullis: every page comes from the binary.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const REPO = path.resolve(__dirname, '..', '..', '..');
// scripts/e2e passes the binary it built; otherwise the usual cargo location.
const BINARY =
  process.env.PORTCULLIS_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, 'target'), 'debug', 'portcullis');
// Server logs stay after the run (git-ignored) so a failed flow can be read afterwards.
const LOG_ROOT = path.join(REPO, 'target', 'e2e-logs');

// Every process started here, killed when the test file's process exits however it exits, so a
// failed assertion never leaves a server holding a port.
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A free loopback port. The System URL must name the port before the server starts, so the
// server cannot simply bind port 0; the window between closing this probe and the bind is tiny.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Passwords the server's zxcvbn policy accepts: long and random, never a word list.
function strongPassword() {
  return `${crypto.randomBytes(15).toString('base64url')}-Qx7`;
}

function start(command, args, { logFile, env } = {}) {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
    // A process that ignores SIGTERM still must not outlive the flow.
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

// The SMTP peer: prints "READY <port>" on stdout once it listens.
async function startSmtp(dir, logFile) {
  const mailDir = path.join(dir, 'received');
  fs.mkdirSync(mailDir);
  const child = spawn('/usr/bin/python3', [path.join(REPO, 'tests', 'smtp', 'server.py'), mailDir, 'accept'], {
    stdio: ['ignore', 'pipe', fs.openSync(logFile, 'a')],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /READY (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`SMTP server exited (${code}) before READY: ${text}`)));
  });
  return { child, port, mailDir };
}

// Quoted-printable soft line breaks and escapes undone, so links read as they were written.
function decodeQuotedPrintable(text) {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Starts an SMTP server and a Portcullis server for one flow file.
 * options.systemUrl(port): the System URL (default http://localhost:PORT/, a secure context
 *   for WebAuthn); options.config: extra TOML appended to the generated file.
 */
async function startPortcullis(name, options = {}) {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: build it with cargo build --bin portcullis (scripts/e2e does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `portcullis-e2e-${name}-`));
  const logDir = path.join(LOG_ROOT, name);
  fs.rmSync(logDir, { recursive: true, force: true });
  fs.mkdirSync(logDir, { recursive: true });
  const smtp = await startSmtp(dir, path.join(logDir, 'smtp.log'));
  const port = await freePort();
  const systemUrl = options.systemUrl ? options.systemUrl(port) : `http://localhost:${port}/`;
  const configFile = path.join(dir, 'portcullis.toml');
  fs.writeFileSync(
    configFile,
    [
      `data_dir = ${JSON.stringify(path.join(dir, 'data'))}`,
      '[server]',
      `listen = "127.0.0.1:${port}"`,
      `system_url = ${JSON.stringify(systemUrl)}`,
      '[proxy]',
      // Never download Cloudflare's list during a test run; the built-in copy is used.
      'cloudflare_refresh_hours = 0',
      '[mail]',
      'transport = "smtp"',
      'smtp_host = "127.0.0.1"',
      `smtp_port = ${smtp.port}`,
      'smtp_tls = "none"',
      'from = "Portcullis <portcullis@localhost>"',
      // The sender looks for queued mail every second, so a flow waits about a second for a link.
      'poll_seconds = 1',
      options.config || '',
      '',
    ].join('\n'),
  );
  const logFile = path.join(logDir, 'server.log');
  // Admins sign in with a password alone unless a flow is about two-step verification (a new
  // installation requires it by default, issue 18 item 14).
  const env = { PORTCULLIS_CONFIG: configFile, RUST_LOG: 'info', PORTCULLIS__TWO_FACTOR__ADMIN_POLICY: 'optional' };
  const server = start(BINARY, ['serve'], { logFile, env });

  // Ready when /healthz answers; a server that exits first fails the flow with its log.
  const deadline = Date.now() + 30000;
  for (;;) {
    if (server.exitCode !== null) {
      throw new Error(`portcullis serve exited (${server.exitCode}):\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`portcullis serve did not answer /healthz:\n${fs.readFileSync(logFile, 'utf8')}`);
    await sleep(100);
  }

  const cli = (args, input) =>
    execFileSync(BINARY, args, { env: { ...process.env, ...env }, input, encoding: 'utf8' });

  return {
    port,
    systemUrl,
    url: (p) => new URL(p, systemUrl).href,
    dir,
    logFile,

    // `portcullis admin create`, the documented way to make an admin; returns the credentials.
    createAdmin(username, role = 'Full Administrator') {
      const password = strongPassword();
      cli(['admin', 'create', '--username', username, '--email', `${username}@example.com`, '--role', role, '--password-stdin'], password);
      return { username, password };
    },

    // `portcullis user create`: a client account and its owner, without the browser.
    createUser(email, firstName = 'Grace', lastName = 'Hopper') {
      const password = strongPassword();
      cli(['user', 'create', '--email', email, '--first-name', firstName, '--last-name', lastName, '--password-stdin'], password);
      return { email, password, firstName, lastName };
    },

    // Waits for a message to `to` that holds a link starting with `prefix` (a path on the
    // System URL), and returns that link. Messages already read are skipped, so asking twice
    // gives the newer link.
    seen: new Set(),
    async mailedLink(to, prefix, timeoutMs = 15000) {
      const start = this.url(prefix);
      const pattern = new RegExp(`${start.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[A-Za-z0-9_-]+`);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const files = fs
          .readdirSync(smtp.mailDir)
          .filter((f) => f.endsWith('.eml') && !this.seen.has(f))
          .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
        for (const file of files) {
          const message = decodeQuotedPrintable(fs.readFileSync(path.join(smtp.mailDir, file), 'utf8'));
          const addressed = new RegExp(`^To:.*${to.replace(/[.+]/g, '\\$&')}`, 'mi').test(message);
          const match = pattern.exec(message);
          if (addressed && match) {
            this.seen.add(file);
            return match[0];
          }
        }
        await sleep(200);
      }
      throw new Error(`no message to ${to} with a link ${start}… within ${timeoutMs} ms`);
    },

    async stop() {
      await stop(server);
      await stop(smtp.child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startPortcullis, strongPassword, freePort, REPO };
