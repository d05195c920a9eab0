// nginx (Debian's nginx-light, with auth_request) in front of a small upstream, asking
// Portcullis's forward-authentication endpoint before every request. The site is the nginx
// block of docs/forward-auth.md, so the documented configuration is the one the browser goes
// through; only the machine's ports, the listening address and a throwaway certificate change.
// The upstream is a page in this process that shows the identity headers nginx passed on.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { REPO, freePort } = require('./servers');

const NGINX = '/usr/sbin/nginx';
const DOCS = path.join(REPO, 'docs', 'forward-auth.md');
const LOG_ROOT = path.join(REPO, 'target', 'e2e-logs');
// The identity headers the documented block copies, each shown as `<dd id="NAME">`.
const IDENTITY = ['remote-user', 'remote-email', 'remote-name', 'remote-subject', 'remote-groups', 'remote-account', 'remote-account-name', 'remote-permissions'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The protected tool: one page naming the path and what reached it.
function startUpstream() {
  const server = http.createServer((request, response) => {
    const rows = IDENTITY.map((h) => `<dt>${h}</dt><dd id="${h}">${escapeHtml(request.headers[h] || '')}</dd>`);
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      [
        '<!doctype html>',
        '<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Status board</title></head>',
        `<body><main><h1>Status board</h1><p id="path">${escapeHtml(request.url)}</p><dl>`,
        ...rows,
        '</dl></main></body></html>',
        '',
      ].join('\n'),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// The documented block with this run's values; a value the page stops naming fails here.
function documented(replacements) {
  const block = /```nginx\n([\s\S]*?)```/.exec(fs.readFileSync(DOCS, 'utf8'));
  if (!block) throw new Error(`${DOCS} has no nginx block`);
  let conf = block[1];
  for (const [documentedValue, actual] of replacements) {
    if (!conf.includes(documentedValue)) throw new Error(`${DOCS}: the nginx block no longer mentions ${documentedValue}`);
    conf = conf.split(documentedValue).join(actual);
  }
  return conf;
}

/**
 * Starts the upstream and nginx for one flow. o: { name, portal } (Portcullis's port).
 * Returns the protected host's base URL (https://status.example.com:PORT), the logs and stop().
 */
async function startNginx(o) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `portcullis-e2e-nginx-${o.name}-`));
  const upstream = await startUpstream();
  const port = await freePort();
  const crt = path.join(dir, 'status.pem');
  const key = path.join(dir, 'status.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=status.example.com',
    '-addext', 'subjectAltName=DNS:status.example.com', '-keyout', key, '-out', crt], { stdio: 'ignore' });
  const site = documented([
    ['127.0.0.1:8080', `127.0.0.1:${o.portal}`],
    ['127.0.0.1:3000', `127.0.0.1:${upstream.address().port}`],
    ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
    ['/etc/ssl/certs/status.example.com.pem', crt],
    ['/etc/ssl/private/status.example.com.key', key],
  ]);
  fs.writeFileSync(path.join(dir, 'site.conf'), site);
  // What Debian's /etc/nginx/nginx.conf provides around a site, pointed at the temp folder.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`);
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    [`pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'events {}', 'http {', `  access_log ${dir}/access.log;`, ...temp, `  include ${dir}/site.conf;`, '}', ''].join('\n'),
  );
  const conf = path.join(dir, 'nginx.conf');
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const errorLog = () => (fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : '');
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}${errorLog()}`);
    const listening = await new Promise((resolve) => {
      const probe = require('node:net').connect(port, '127.0.0.1', () => {
        probe.end();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (listening) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen: ${stderr}${errorLog()}`);
    await sleep(100);
  }
  return {
    base: `https://status.example.com:${port}`,
    errorLog,
    async stop() {
      const logDir = path.join(LOG_ROOT, o.name);
      fs.mkdirSync(logDir, { recursive: true });
      for (const f of ['error.log', 'access.log']) {
        if (fs.existsSync(path.join(dir, f))) fs.copyFileSync(path.join(dir, f), path.join(logDir, `nginx-${f}`));
      }
      if (child.exitCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        });
      }
      await new Promise((resolve) => upstream.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startNginx };
