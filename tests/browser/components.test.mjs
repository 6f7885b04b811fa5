// The console's dashboard lists external components (XEP-0114) and follows
// their connection live.  Run by tests/integration/test_component.py
// against a real emberd; the environment says where:
//   EMBER_CONSOLE_URL  EMBER_ADMIN_JID  EMBER_ADMIN_PASSWORD
//   EMBER_COMPONENT_PORT  EMBER_COMPONENT  EMBER_COMPONENT_SECRET
//   EMBER_OTHER_COMPONENT  EMBER_SCREENSHOT_DIR
// Prints "COMPONENTS PASSED" and exits 0 when every check held; any console
// error, page error or CSP violation fails it.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { launchChromium } from './chromium.mjs';

const env = (k) => {
    const v = process.env[k];
    if (v === undefined) { console.error('missing env ' + k); process.exit(2); }
    return v;
};
const URL_ = env('EMBER_CONSOLE_URL').replace(/\/?$/, '/');
const COMPONENT = env('EMBER_COMPONENT');
const OTHER = env('EMBER_OTHER_COMPONENT');
const SHOTS = env('EMBER_SCREENSHOT_DIR');
const T = 10000;

// A component as XEP-0114 has it: header, then SHA-1(id + secret).
function component() {
    return new Promise((resolve, reject) => {
        const s = connect(Number(env('EMBER_COMPONENT_PORT')), '127.0.0.1');
        let got = '', sent = false;
        s.setEncoding('utf8');
        s.on('error', reject);
        s.on('connect', () => s.write(
            "<stream:stream xmlns='jabber:component:accept' " +
            "xmlns:stream='http://etherx.jabber.org/streams' to='" +
            COMPONENT + "'>"));
        s.on('data', (d) => {
            got += d;
            const id = /<stream:stream[^>]* id='([^']+)'/.exec(got);
            if (id && !sent) {
                sent = true;
                const hash = createHash('sha1')
                    .update(id[1] + env('EMBER_COMPONENT_SECRET')).digest('hex');
                s.write('<handshake>' + hash + '</handshake>');
            }
            if (/<handshake\/>/.test(got)) resolve(s);
            if (/<stream:error>/.test(got)) reject(new Error(got));
        });
    });
}

mkdirSync(SHOTS, { recursive: true });
const problems = [];
const { profile, context, page } = await launchChromium(
    { width: 1280, height: 800 }, T);
page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
page.on('pageerror', (e) => problems.push(String(e)));

const row = (domain) => page.locator(
    'section[aria-label="External components"] tr[data-component="' + domain + '"]');
const cell = (domain, label) => row(domain).locator('td[data-label="' + label + '"]');

let sock = null, code = 1;
try {
    const r = await page.request.post(URL_ + 'api/v1/login', {
        data: { jid: env('EMBER_ADMIN_JID'), password: env('EMBER_ADMIN_PASSWORD') } });
    if (!r.ok()) throw new Error('login: ' + r.status());
    sock = await component();
    await page.goto(URL_ + '#/dashboard');
    await cell(COMPONENT, 'Connected').filter({ hasText: 'yes' }).waitFor();
    if ((await cell(COMPONENT, 'From').textContent()) !== '127.0.0.1')
        throw new Error('address not shown');
    await cell(OTHER, 'Connected').filter({ hasText: 'no' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'dashboard-components.png'), fullPage: true });
    // Live: the stats stream shows it gone within a few seconds.
    sock.end('</stream:stream>');
    await cell(COMPONENT, 'Connected').filter({ hasText: 'no' })
        .waitFor({ timeout: 3 * T });
    if (problems.length) throw new Error('page problems: ' + problems.join(' | '));
    console.log('COMPONENTS PASSED');
    code = 0;
} catch (e) {
    console.log('FAIL ' + String(e && e.message || e).split('\n').slice(0, 6).join(' | '));
    try { await page.screenshot({ path: join(SHOTS, 'FAILED-components.png'), fullPage: true }); }
    catch (_) { /* page gone */ }
} finally {
    if (sock) sock.destroy();
    await context.close();
    rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
