// The console's dashboard lists the server-to-server links and follows
// them live.  Run by tests/integration/test_s2s.py against a real emberd
// with a link up; the environment says where:
//   EMBER_CONSOLE_URL  EMBER_ADMIN_JID  EMBER_ADMIN_PASSWORD
//   EMBER_REMOTE  EMBER_SCREENSHOT_DIR
// Prints "S2S PASSED" and exits 0 when every check held; any console
// error, page error or CSP violation fails it.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from './chromium.mjs';

const env = (k) => {
    const v = process.env[k];
    if (v === undefined) { console.error('missing env ' + k); process.exit(2); }
    return v;
};
const URL_ = env('EMBER_CONSOLE_URL').replace(/\/?$/, '/');
const REMOTE = env('EMBER_REMOTE');
const SHOTS = env('EMBER_SCREENSHOT_DIR');
const T = 10000;

mkdirSync(SHOTS, { recursive: true });
const problems = [];
const { profile, context, page } = await launchChromium(
    { width: 1280, height: 900 }, T);
page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
page.on('pageerror', (e) => problems.push(String(e)));

const cell = (dir, label) => page.locator(
    'section[aria-label="Server-to-server links"] tr[data-link="' + dir + ' ' +
    REMOTE + '"] td[data-label="' + label + '"]');

let code = 1;
try {
    const r = await page.request.post(URL_ + 'api/v1/login', {
        data: { jid: env('EMBER_ADMIN_JID'), password: env('EMBER_ADMIN_PASSWORD') } });
    if (!r.ok()) throw new Error('login: ' + r.status());
    const csrf = (await r.json()).csrf;
    await page.goto(URL_ + '#/dashboard');
    await cell('out', 'State').filter({ hasText: 'up' }).waitFor();
    await cell('out', 'Authentication').filter({ hasText: 'dialback' }).waitFor();
    await cell('in', 'Authentication').filter({ hasText: 'dialback' }).waitFor();
    if (!/^TLS/.test(await cell('out', 'TLS').textContent()))
        throw new Error('TLS version not shown');
    await page.screenshot({ path: join(SHOTS, 'dashboard-s2s.png'), fullPage: true });
    // Live: closing the links from the REST API empties the section.
    const c = await page.request.post(URL_ + 'api/v1/commands/s2s-close', {
        data: { domain: REMOTE }, headers: { 'X-CSRF-Token': csrf } });
    if (!c.ok()) throw new Error('s2s-close: ' + c.status());
    await page.locator('section[aria-label="Server-to-server links"]')
        .waitFor({ state: 'hidden', timeout: 3 * T });
    if (problems.length) throw new Error('page problems: ' + problems.join(' | '));
    console.log('S2S PASSED');
    code = 0;
} catch (e) {
    console.log('FAIL ' + String(e && e.message || e).split('\n').slice(0, 6).join(' | '));
    try { await page.screenshot({ path: join(SHOTS, 'FAILED-s2s.png'), fullPage: true }); }
    catch (_) { /* page gone */ }
} finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
