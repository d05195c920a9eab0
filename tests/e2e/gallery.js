// Writes docs/screenshots.md from the manifests the flows leave beside their screenshots
// (FLOW.json: the pages in the order visited, with titles), then removes the manifests, so the
// committed gallery is exactly what the last `scripts/e2e --gallery` run saw.
// Usage: node gallery.js SCREENSHOT_DIR MARKDOWN_FILE
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [dir, markdown] = process.argv.slice(2);
// The order and headings of the gallery; a flow missing here still appears, last.
const FLOWS = [
  ['client', 'Client area: registration, confirmation, sign-in, every page, password reset, F05'],
  ['admin', 'Admin area: sign-in, every page, System Health and its fix, Access Denied, login as client'],
  ['twofactor', 'Two-step verification: authenticator app and security key'],
  ['f06', 'F06: a browser that drops the session cookie'],
  ['oidc', 'OpenID provider: an application registered, a sign-in for it through Apache mod_auth_openidc, consent'],
];
const manifests = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => path.basename(f, '.json'));
const order = [...FLOWS.filter(([flow]) => manifests.includes(flow)), ...manifests.filter((m) => !FLOWS.some(([f]) => f === m)).map((m) => [m, m])];

const link = (file) => path.relative(path.dirname(markdown), path.join(dir, file)).split(path.sep).join('/');
const lines = [
  '# Screenshots',
  '',
  'Every page the end-to-end suite (`tests/e2e`) visits, as headless Chromium rendered it, at a desktop',
  'width (1280 px) and a phone width (390 px). Refresh with `scripts/e2e --gallery`; the suite checks each',
  'page for console errors, CSP violations and serious or critical axe-core findings as it takes them.',
  '',
];
for (const [flow, heading] of order) {
  const shots = JSON.parse(fs.readFileSync(path.join(dir, `${flow}.json`), 'utf8'));
  lines.push(`## ${heading}`, '');
  for (const { file, title } of shots) {
    lines.push(`### ${title}`, '');
    lines.push('| desktop | phone |', '|---|---|');
    lines.push(`| <img src="${link(`${file}-desktop.jpg`)}" width="480" alt="${title}, desktop"> | <img src="${link(`${file}-phone.jpg`)}" width="180" alt="${title}, phone"> |`, '');
  }
  fs.rmSync(path.join(dir, `${flow}.json`));
}
fs.writeFileSync(markdown, lines.join('\n'));
console.log(`wrote ${markdown}`);
