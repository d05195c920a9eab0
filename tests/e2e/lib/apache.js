// Apache httpd with mod_auth_openidc (Debian's apache2 and libapache2-mod-auth-openidc): a
// relying party written by others, protecting /protected/ on its own loopback port. It reads
// Portcullis's discovery document, sends people to sign in there, exchanges the code at the
// token endpoint with client_secret_basic and PKCE, and takes back-channel logout tokens at
// `<redirect URI>?logout=backchannel`. The protected page is a server-side include that prints
// the claims mod_auth_openidc passed to it, so a flow can read them.
//
// The relying party's directives are read from docs/oidc.md (its mod_auth_openidc block), so
// the documented configuration is the one that runs; around them go the modules, the logs and
// the page, in a temporary folder.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { REPO } = require('./servers');

const HTTPD = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const LOG_ROOT = path.join(REPO, 'target', 'e2e-logs');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The claims the page prints, one `<dd id="claim-NAME">` each (empty when not passed).
const CLAIMS = ['sub', 'email', 'email_verified', 'name', 'given_name', 'family_name', 'amr', 'acr', 'sid'];

function page() {
  const rows = CLAIMS.map((c) => `  <dt>${c}</dt><dd id="claim-${c}"><!--#echo var="OIDC_CLAIM_${c}" --></dd>`);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Protected by mod_auth_openidc</title></head>',
    '<body><main><h1>Protected by mod_auth_openidc</h1>',
    '<p id="remote-user"><!--#echo var="REMOTE_USER" --></p>',
    '<dl>',
    ...rows,
    '</dl></main></body></html>',
    '',
  ].join('\n');
}

const DOCS = path.join(REPO, 'docs', 'oidc.md');
const BEGIN = '<!-- begin mod_auth_openidc configuration';
const END = '<!-- end mod_auth_openidc configuration -->';

// The relying party's part of the configuration, exactly as docs/oidc.md gives it, with this
// run's addresses and credentials in place of the documented ones.
function documented(o) {
  const text = fs.readFileSync(DOCS, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${DOCS} has no mod_auth_openidc block`);
  const block = /```apache\n([\s\S]*?)```/.exec(text.slice(begin, end));
  if (!block) throw new Error(`${DOCS}: the mod_auth_openidc block is not an apache code block`);
  const replacements = [
    ['https://portal.example.com/', o.issuer],
    ['https://wiki.example.com', `http://127.0.0.1:${o.port}`],
    ['<client id>', o.clientId],
    ['<client secret>', o.clientSecret],
    ['<a long random string>', o.passphrase],
  ];
  let conf = block[1];
  for (const [documentedValue, actual] of replacements) {
    if (!conf.includes(documentedValue)) throw new Error(`${DOCS}: the block no longer mentions ${documentedValue}`);
    conf = conf.split(documentedValue).join(actual);
  }
  return conf;
}

/**
 * The httpd.conf of one run.
 * o: { dir, port, issuer, clientId, clientSecret, passphrase }
 */
function configuration(o) {
  const modules = [
    ['mpm_event_module', 'mod_mpm_event.so'],
    ['authn_core_module', 'mod_authn_core.so'],
    ['authz_core_module', 'mod_authz_core.so'],
    ['authz_user_module', 'mod_authz_user.so'],
    ['mime_module', 'mod_mime.so'],
    ['dir_module', 'mod_dir.so'],
    ['include_module', 'mod_include.so'],
    ['auth_openidc_module', 'mod_auth_openidc.so'],
  ];
  return [
    ...modules.map(([name, file]) => `LoadModule ${name} ${MODULES}/${file}`),
    `ServerRoot ${o.dir}`,
    `PidFile ${o.dir}/httpd.pid`,
    `DefaultRuntimeDir ${o.dir}`,
    `Mutex file:${o.dir} default`,
    `Listen 127.0.0.1:${o.port}`,
    'ServerName 127.0.0.1',
    // Run as root (CI), Apache switches to this user: it must read the page's folder.
    'User www-data',
    'Group www-data',
    `ErrorLog ${o.dir}/error.log`,
    'LogLevel warn auth_openidc:info',
    'LogFormat "%h %t \\"%r\\" %>s" short',
    `CustomLog ${o.dir}/access.log short`,
    'TypesConfig /etc/mime.types',
    `DocumentRoot ${o.dir}/htdocs`,
    '',
    documented(o),
    '',
    `<Directory ${o.dir}/htdocs>`,
    '  Options +Includes',
    '  AddOutputFilter INCLUDES .shtml',
    '  DirectoryIndex index.shtml index.html',
    '  Require all granted',
    '</Directory>',
    '',
  ].join('\n');
}

/**
 * Starts Apache in the foreground for one flow. Returns its URLs, its logs and stop().
 * o: { name, port, issuer, clientId, clientSecret }
 */
async function startApache(o) {
  if (!fs.existsSync(`${MODULES}/mod_auth_openidc.so`)) {
    throw new Error('mod_auth_openidc is missing: install apache2 and libapache2-mod-auth-openidc (scripts/e2e does)');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `portcullis-e2e-apache-${o.name}-`));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'htdocs', 'protected'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'htdocs', 'protected', 'index.shtml'), page());
  // Where a sign-out at Apache ends (its post-logout redirect URI): not protected.
  fs.writeFileSync(path.join(dir, 'htdocs', 'index.html'), '<!doctype html><title>Signed out</title><link rel="icon" href="data:,"><h1>Signed out of the wiki</h1>\n');
  const passphrase = crypto.randomBytes(24).toString('base64url');
  const conf = path.join(dir, 'httpd.conf');
  fs.writeFileSync(conf, configuration({ ...o, dir, passphrase }));
  // A configuration Apache refuses fails here, with Apache's own words.
  execFileSync(HTTPD, ['-t', '-f', conf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  const child = spawn(HTTPD, ['-DFOREGROUND', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`apache2 exited (${child.exitCode}): ${stderr}`);
    try {
      // Up once the protected page answers: a redirect to the provider for a browser, 401 for
      // this fetch, which does not ask for HTML (mod_auth_openidc tells the two apart).
      const response = await fetch(`${base}/protected/`, { redirect: 'manual' });
      if (response.status === 401 || response.status === 302) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`apache2 did not answer: ${stderr}`);
    await sleep(100);
  }

  return {
    url: `${base}/protected/`,
    home: `${base}/`,
    // mod_auth_openidc's local sign-out, sent on to the provider's end-session endpoint, and
    // from there back to `home`.
    logoutUrl: `${base}/protected/redirect_uri?logout=${encodeURIComponent(`${base}/`)}`,
    redirectUri: `${base}/protected/redirect_uri`,
    backchannelUri: `${base}/protected/redirect_uri?logout=backchannel`,
    errorLog: () => fs.readFileSync(path.join(dir, 'error.log'), 'utf8'),
    async stop() {
      const logDir = path.join(LOG_ROOT, o.name);
      fs.mkdirSync(logDir, { recursive: true });
      for (const f of ['error.log', 'access.log']) {
        if (fs.existsSync(path.join(dir, f))) fs.copyFileSync(path.join(dir, f), path.join(logDir, `apache-${f}`));
      }
      if (child.exitCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startApache };
