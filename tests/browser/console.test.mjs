// Browser test of the Ember admin console: Debian's chromium, headless,
// driven by playwright-core.  Run by tests/integration/test_console_browser.py
// against a real emberd; the environment says where:
//   EMBER_CONSOLE_URL  http://127.0.0.1:PORT/     EMBER_ADMIN_JID, EMBER_ADMIN_PASSWORD
//   EMBER_C2S_PORT     EMBER_DOMAIN               EMBER_SCREENSHOT_DIR
// Prints one PASS/FAIL line per step, "ALL STEPS PASSED" and exits 0 when
// every step passed.  Any console error, uncaught exception or CSP
// violation in the page fails the run.
import { launchChromium } from './chromium.mjs';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const env = (k, d) => {
    const v = process.env[k] ?? d;
    if (v === undefined) { console.error('missing env ' + k); process.exit(2); }
    return v;
};
const URL_ = env('EMBER_CONSOLE_URL').replace(/\/?$/, '/');
const ADMIN = env('EMBER_ADMIN_JID');
const ADMIN_PW = env('EMBER_ADMIN_PASSWORD');
const C2S = env('EMBER_C2S_PORT');
const DOMAIN = env('EMBER_DOMAIN', 'localhost');
const SHOTS = env('EMBER_SCREENSHOT_DIR', join(HERE, 'out'));
const USER = 'webuser' + process.pid + '@' + DOMAIN;
const USER_PW = 'web-user-secret';
const MODULE = process.env.EMBER_TEST_MODULE || 'time';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const T = 10000;

mkdirSync(SHOTS, { recursive: true });
const results = [];
const problems = [];         // console errors, page errors, CSP violations
const apiErrors = [];        // expected 4xx/503 answers the UI handled
let aborted = false;

async function step(name, fn, { critical = false } = {}) {
    if (aborted) { results.push([name, 'SKIP', 'an earlier critical step failed']); return; }
    const t0 = Date.now();
    try {
        await fn();
        results.push([name, 'PASS', (Date.now() - t0) + ' ms']);
        console.log('PASS  ' + name);
    } catch (e) {
        const msg = String(e && e.message || e).split('\n').slice(0, 6).join(' | ');
        results.push([name, 'FAIL', msg]);
        console.log('FAIL  ' + name + ': ' + msg);
        try { await page.screenshot({ path: join(SHOTS, 'FAILED-' + slug(name) + '.png'), fullPage: true }); }
        catch (_) { /* page gone */ }
        if (critical) aborted = true;
    }
}
const slug = s => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const shot = (name) => page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });

// ---- browser ----
const { profile, context, page } = await launchChromium(DESKTOP, T);
page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const where = (m.location() && m.location().url) || '';
    // The browser logs every non-2xx fetch; API answers the UI handles
    // (401 before login, 404 vCard, 503 module not loaded) are expected.
    const st = /status of (\d+)/.exec(text);
    if (st && /\/api\/v1\//.test(where) &&
        (/^4/.test(st[1]) || st[1] === '503')) {
        apiErrors.push(st[1] + ' ' + where.replace(URL_, '/'));
        return;
    }
    problems.push('console error: ' + text + (where ? ' (' + where + ')' : ''));
});
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('response', (r) => {
    if (r.status() >= 500 && r.status() !== 503)
        problems.push('server error ' + r.status() + ' ' + r.request().method() + ' ' + r.url());
    if (r.status() === 404 && !/\/api\/v1\//.test(r.url()))
        problems.push('static 404: ' + r.url());
});

const nav = async (label, heading) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
};

async function waitValue(locate, want, ms = T) {
    const end = Date.now() + ms;
    let got;
    while ((got = await locate().inputValue().catch(() => null)) !== want) {
        if (Date.now() > end) throw new Error('value is ' + JSON.stringify(got) + ', want ' + JSON.stringify(want));
        await new Promise(r => setTimeout(r, 100));
    }
}

// ---- slixmpp clients ----
const clients = [];
function startSlix(...extra) {
    const c = { out: '' };
    c.proc = spawn('/usr/bin/python3', [join(HERE, 'slix_client.py'), USER, USER_PW, C2S, ...extra],
                   { stdio: ['pipe', 'pipe', 'pipe'] });
    c.proc.stdout.on('data', d => { c.out += d; });
    c.proc.stderr.on('data', d => { c.out += d; });
    clients.push(c);
    return c;
}
async function waitSlix(c, word, ms) {
    const end = Date.now() + ms;
    while (!c.out.includes(word)) {
        if (Date.now() > end) throw new Error('slixmpp client never said ' + word + ': ' + c.out.slice(-500));
        if (c.proc.exitCode !== null && !c.out.includes(word))
            throw new Error('slixmpp client exited ' + c.proc.exitCode + ': ' + c.out.slice(-500));
        await new Promise(r => setTimeout(r, 100));
    }
}

// ---- the flow ----
let slix = null;
try {
    await step('first run opens the setup page', async () => {
        await page.goto(URL_);
        await page.waitForURL(/#\/setup$/);
        await page.getByRole('heading', { name: 'Welcome to Ember' }).waitFor();
        await shot('setup');
    }, { critical: true });

    await step('setup validates, then creates the first admin', async () => {
        await page.getByLabel('Setup token').fill('0123456789abcdef0123456789abcdef');
        await page.getByLabel('Admin JID').fill(ADMIN);
        await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
        await page.getByLabel('Repeat password').fill(ADMIN_PW + 'x');
        await page.getByRole('button', { name: 'Create admin' }).click();
        await page.getByRole('alert').filter({ hasText: 'The passwords differ' }).waitFor();
        await page.getByLabel('Repeat password').fill(ADMIN_PW);
        await page.getByRole('button', { name: 'Create admin' }).click();
        await page.getByRole('alert').filter({ hasText: 'wrong setup token' }).waitFor();
        await page.getByLabel('Setup token').fill(process.env.EMBER_SETUP_TOKEN);
        await page.getByRole('button', { name: 'Create admin' }).click();
        await page.waitForURL(/#\/login$/);
        await page.getByText('Admin ' + ADMIN + ' created').waitFor();
    }, { critical: true });

    await step('wrong password is refused next to the form', async () => {
        await page.getByLabel('JID', { exact: true }).fill(ADMIN);
        await page.getByLabel('Password', { exact: true }).fill('not-the-password');
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByRole('alert').filter({ hasText: /unauthorized|wrong/i }).waitFor();
        await shot('login');
    });

    await step('login', async () => {
        await page.getByLabel('JID', { exact: true }).fill(ADMIN);
        await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.waitForURL(/#\/dashboard$/);
        await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    }, { critical: true });

    await step('dashboard shows live figures (chart updates)', async () => {
        await page.waitForFunction(() => {
            const u = document.getElementById('stats-updated');
            return u && Number(u.dataset.updates || 0) >= 3;
        }, null, { timeout: 15000 });
        const samples = await page.locator('canvas[aria-label="Online sessions chart"]').getAttribute('data-samples');
        if (Number(samples) < 3) throw new Error('chart has ' + samples + ' samples');
        const v = await page.locator('#stat-version').textContent();
        if (!v || v === '–') throw new Error('no version shown');
        await page.getByRole('table').filter({ hasText: 'c2s' }).waitFor();
        await shot('dashboard');
    });

    await step('dashboard at phone size, menu collapses', async () => {
        await page.setViewportSize(PHONE);
        const menu = page.getByRole('button', { name: 'Menu' });
        await menu.waitFor();
        if (await page.getByRole('navigation', { name: 'Main' }).isVisible())
            throw new Error('navigation not collapsed at phone size');
        await shot('dashboard-phone');
        await menu.click();
        await page.getByRole('navigation', { name: 'Main' }).waitFor();
        await shot('menu-phone');
        await menu.click();
        await page.setViewportSize(DESKTOP);
    });

    await step('users: client-side validation, create, search, open', async () => {
        await nav('Users', 'Users');
        await page.getByRole('table', { name: 'Users' }).getByText(ADMIN).waitFor();
        await shot('users');
        const create = page.getByRole('form', { name: 'Create user' });
        await create.getByLabel('New user JID').fill('not-a-jid');
        await create.getByLabel('New user password').fill(USER_PW);
        await create.getByRole('button', { name: 'Create user' }).click();
        await create.getByRole('alert').filter({ hasText: 'user@host' }).waitFor();
        await create.getByLabel('New user JID').fill(USER);
        await create.getByRole('button', { name: 'Create user' }).click();
        await page.getByRole('status').filter({ hasText: 'User ' + USER + ' created' }).waitFor();
        await page.getByLabel('Search users').fill(USER.split('@')[0]);
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await page.getByRole('link', { name: USER }).click();
        await page.getByRole('heading', { level: 1, name: USER }).waitFor();
        await page.getByRole('region', { name: 'Account' }).getByRole('button', { name: /lock account/i }).waitFor();
        await shot('user');
    });

    await step('slixmpp client logs in as the new user', async () => {
        slix = startSlix();
        await waitSlix(slix, 'READY', 20000);
    });

    let fullJid = null;
    await step('sessions page shows the session', async () => {
        await nav('Sessions', 'Sessions');
        const row = page.locator('tr[data-jid^="' + USER + '/"]');
        await row.waitFor({ timeout: 15000 });
        fullJid = await row.getAttribute('data-jid');
        await shot('sessions');
    });

    await step("user page lists the user's session", async () => {
        await page.goto(URL_ + '#/users/' + encodeURIComponent(USER));
        await page.getByRole('heading', { level: 1, name: USER }).waitFor();
        await page.getByRole('region', { name: 'Online sessions' })
            .locator('tr[data-jid="' + fullJid + '"]').waitFor();
        await nav('Sessions', 'Sessions');
    });

    await step('kick the session', async () => {
        if (!fullJid) throw new Error('no session to kick');
        await page.getByRole('button', { name: 'Kick ' + fullJid }).click();
        await page.getByRole('button', { name: 'Confirm kick ' + fullJid }).click();
        await page.getByRole('status').filter({ hasText: 'kicked' }).waitFor();
        await waitSlix(slix, 'DISCONNECTED', 10000);
        await page.locator('tr[data-jid="' + fullJid + '"]').waitFor({ state: 'detached', timeout: 10000 });
    });

    await step('lock and unlock the account', async () => {
        await page.goto(URL_ + '#/users/' + encodeURIComponent(USER));
        const acct = page.getByRole('region', { name: 'Account' });
        await acct.getByLabel('Reason for locking').fill('console test lock');
        await acct.getByRole('button', { name: 'Lock account' }).click();
        await acct.getByRole('button', { name: 'Unlock account' }).waitFor();
        await acct.getByText('yes', { exact: true }).waitFor();
        await acct.getByText('console test lock', { exact: true }).waitFor();
        await acct.getByRole('button', { name: 'Unlock account' }).click();
        await acct.getByRole('button', { name: 'Lock account' }).waitFor();
    });

    await step('roster: add a contact, then remove it', async () => {
        const r = page.getByRole('region', { name: 'Roster' });
        const f = r.getByRole('form', { name: 'Add a contact' });
        await f.getByLabel('Contact JID').fill('friend@example.org');
        await f.getByLabel('Contact name').fill('A Friend');
        await f.getByLabel('Groups (comma separated)').fill('Pals');
        await f.getByRole('button', { name: 'Add contact' }).click();
        await page.getByRole('status').filter({ hasText: 'friend@example.org added' }).waitFor();
        const t = r.getByRole('table', { name: 'Roster' });
        await t.getByText('A Friend', { exact: true }).waitFor();
        await shot('user-roster');
        await t.getByRole('button', { name: 'Remove friend@example.org' }).click();
        await t.getByRole('button', { name: /Confirm/ }).click();
        await page.getByRole('status').filter({ hasText: 'friend@example.org removed' }).waitFor();
        await r.getByText('Empty roster.').waitFor();
    });

    await step('change the password (validated)', async () => {
        const f = page.getByRole('form', { name: 'Change password' });
        await f.getByLabel('New password').fill('abc');
        await f.getByRole('button', { name: 'Change password' }).click();
        await f.getByRole('alert').filter({ hasText: 'at least' }).waitFor();
        await f.getByLabel('New password').fill(USER_PW);
        await f.getByRole('button', { name: 'Change password' }).click();
        await page.getByRole('status').filter({ hasText: 'Password changed' }).waitFor();
    });

    await step('create and delete a second user', async () => {
        const tmp = 'deleteme' + process.pid + '@' + DOMAIN;
        await nav('Users', 'Users');
        const create = page.getByRole('form', { name: 'Create user' });
        await create.getByLabel('New user JID').fill(tmp);
        await create.getByLabel('New user password').fill(USER_PW);
        await create.getByRole('button', { name: 'Create user' }).click();
        await page.getByRole('link', { name: tmp }).click();
        await page.getByRole('heading', { level: 1, name: tmp }).waitFor();
        await page.getByRole('button', { name: 'Delete user' }).click();
        await page.getByRole('button', { name: 'Confirm delete user' }).click();
        await page.waitForURL(/#\/users$/);
        await page.getByLabel('Search users').fill('deleteme' + process.pid);
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await page.getByText('No users match.').waitFor();
    });

    await step('users: many at once, then a name and an email', async () => {
        const ann = 'bulkann' + process.pid + '@' + DOMAIN;
        const bad = 'bulkbad' + process.pid + '@' + DOMAIN;
        const lee = 'bulklee' + process.pid + '@' + DOMAIN;
        await nav('Users', 'Users');
        const f = page.getByRole('form', { name: 'Create many users' });
        // A chosen file fills the text.
        await f.getByLabel('CSV file').setInputFiles({
            name: 'people.csv', mimeType: 'text/csv',
            buffer: Buffer.from('jid,password\r\nfrom-file@' + DOMAIN + ',x\r\n') });
        await page.waitForFunction(() => document.querySelector(
            'form[aria-label="Create many users"] textarea').value.includes('from-file@'));
        await f.getByLabel(/^One user per line/).fill(
            ann + ',' + USER_PW + ',Ann Lee,ann@mail.example\n' + bad + ',\n' +
            '"' + lee + '",' + USER_PW + ',"Lee, Ann"\n');
        await f.getByRole('button', { name: 'Create users' }).click();
        const t = page.getByRole('table', { name: 'Created users' });
        await t.locator('tr', { hasText: ann }).getByText('created', { exact: true }).waitFor();
        await t.locator('tr', { hasText: lee }).getByText('created', { exact: true }).waitFor();
        await t.locator('tr', { hasText: bad })
            .getByText(/invalid user name or password/).waitFor();
        await shot('users-bulk');
        await page.goto(URL_ + '#/users/' + encodeURIComponent(lee));
        await page.getByRole('region', { name: 'Account' })
            .getByText('Lee, Ann', { exact: true }).first().waitFor();
        await page.goto(URL_ + '#/users/' + encodeURIComponent(ann));
        const acct = page.getByRole('region', { name: 'Account' });
        await acct.getByText('Ann Lee', { exact: true }).first().waitFor();
        const about = acct.getByRole('form', { name: 'Name and email' });
        await about.getByLabel('Email').fill('not an address');
        await about.getByRole('button', { name: 'Save name and email' }).click();
        await about.getByRole('alert').filter({ hasText: 'looks like' }).waitFor();
        await about.getByLabel('Email').fill('ann.lee@mail.example');
        await about.getByRole('button', { name: 'Save name and email' }).click();
        await page.getByRole('status').filter({ hasText: 'Name and email saved' }).waitFor();
        await acct.getByText('ann.lee@mail.example', { exact: true }).first().waitFor();
    });

    await step('modules: disable ' + MODULE + ' and re-enable it', async () => {
        await nav('Modules', 'Modules');
        const loaded = page.locator('#modules-loaded tr[data-module="' + MODULE + '"]');
        await loaded.waitFor();
        await shot('modules');
        await loaded.getByRole('button', { name: /^Disable / }).click();
        await page.locator('#modules-available tr[data-plugin="' + MODULE + '"]').waitFor();
        await loaded.waitFor({ state: 'detached' });
        await shot('modules-disabled');
        await page.getByRole('button', { name: 'Enable ' + MODULE, exact: true }).click();
        await loaded.waitFor();
        const state = await loaded.locator('.badge').first().textContent();
        if (state !== 'loaded') throw new Error(MODULE + ' is ' + state + ' after enable');
    });

    await step('module options are shown', async () => {
        await page.locator('#modules-loaded tr[data-module="ping"]').getByRole('button', { name: /^Options of ping/ }).click();
        const f = page.locator('#module-options').getByRole('form', { name: /^Options of ping/ });
        await f.getByLabel('interval').waitFor();
        await f.getByLabel('interval').fill('not a number');
        await f.getByRole('button', { name: 'Save options' }).click();
        await f.getByRole('alert').filter({ hasText: 'must be a number' }).waitFor();
        await f.getByLabel('interval').fill('120');
        await f.getByRole('button', { name: 'Save options' }).click();
        await page.getByRole('status').filter({ hasText: 'Options of ping saved' }).waitFor();
        await shot('module-options');
    });

    const ROOM = 'consoletest' + process.pid + '@conference.' + DOMAIN;
    const NODE = 'consoletest' + process.pid;
    let owner = null;
    await step('a slixmpp client creates a room and a pubsub node', async () => {
        owner = startSlix(ROOM, NODE);
        await waitSlix(owner, 'NODE', 25000);
    });

    await step('rooms: list, view, configure, destroy', async () => {
        await nav('Rooms', 'Group chat rooms');
        await page.getByRole('table', { name: 'Rooms' }).getByText(ROOM).waitFor();
        await shot('rooms');
        await page.getByRole('link', { name: 'View ' + ROOM }).click();
        const f = page.getByRole('form', { name: 'Configure ' + ROOM });
        // The room's own form: its labels, and a select for a list field.
        await f.getByLabel('Name', { exact: true }).fill('Console test room');
        await f.getByLabel('Who may see real JIDs').selectOption('anyone');
        await f.getByRole('button', { name: 'Save configuration' }).click();
        await page.getByRole('status').filter({ hasText: 'Room configured' }).waitFor();
        // The form is redrawn from the server's answer.
        await waitValue(() => page.getByRole('form', { name: 'Configure ' + ROOM })
                                  .getByLabel('Name', { exact: true }), 'Console test room');
        await waitValue(() => page.getByRole('form', { name: 'Configure ' + ROOM })
                                  .getByLabel('Who may see real JIDs'), 'anyone');
        await shot('room');
        await page.getByLabel('Reason for destroying').fill('console test');
        const destroy = page.getByRole('button', { name: 'Destroy room' });
        await destroy.click();
        await page.getByRole('button', { name: 'Confirm destroy room' }).click();
        await page.getByRole('status').filter({ hasText: 'Room destroyed' }).waitFor();
        await page.waitForURL(/#\/rooms$/);
        await page.getByRole('table', { name: 'Rooms' }).getByText(ROOM).waitFor({ state: 'detached' });
    });

    await step('rooms: create one with an owner, ban a JID with a reason', async () => {
        const made = 'made@conference.' + DOMAIN;
        await nav('Rooms', 'Group chat rooms');
        const c = page.getByRole('form', { name: 'Create a room' });
        await c.getByLabel('Room address').fill(made);
        await c.getByLabel('Name', { exact: true }).fill('Made in the console');
        await c.getByLabel('Members only').check();
        await c.getByRole('button', { name: 'Create room' }).click();
        await page.getByRole('status').filter({ hasText: 'Room ' + made + ' created' }).waitFor();
        const affs = page.getByRole('table', { name: 'Affiliations' });
        await affs.getByText(ADMIN, { exact: true }).waitFor();
        const s = page.getByRole('form', { name: 'Set an affiliation' });
        await s.getByLabel('JID', { exact: true }).fill('troll@' + DOMAIN);
        await s.getByLabel('Affiliation').selectOption('outcast');
        await s.getByLabel('Reason').fill('console test ban');
        await s.getByRole('button', { name: 'Set affiliation' }).click();
        await page.getByRole('status').filter({ hasText: 'troll@' + DOMAIN + ' is now outcast' }).waitFor();
        await page.getByRole('table', { name: 'Affiliations' }).getByText('console test ban').waitFor();
        await shot('room-made');
        await page.getByRole('button', { name: 'Destroy room' }).click();
        await page.getByRole('button', { name: 'Confirm destroy room' }).click();
        await page.getByRole('status').filter({ hasText: 'Room destroyed' }).waitFor();
    });

    await step('nodes: list, view, configure, delete', async () => {
        await nav('Pubsub nodes', 'Pubsub nodes');
        await page.getByRole('table', { name: 'Nodes' }).getByText(NODE, { exact: true }).waitFor();
        await shot('nodes');
        await page.getByRole('button', { name: 'View ' + NODE }).click();
        const f = page.getByRole('form', { name: 'Configure ' + NODE });
        await f.getByLabel('title', { exact: true }).fill('Console test node');
        await f.getByRole('button', { name: 'Save configuration' }).click();
        await page.getByRole('status').filter({ hasText: 'Node configured' }).waitFor();
        await waitValue(() => page.getByRole('form', { name: 'Configure ' + NODE })
                                  .getByLabel('title', { exact: true }), 'Console test node');
        await shot('node');
        await page.getByRole('button', { name: 'Delete node' }).click();
        await page.getByRole('button', { name: 'Confirm delete node' }).click();
        await page.getByRole('status').filter({ hasText: 'Node deleted' }).waitFor();
        await page.getByRole('table', { name: 'Nodes' }).getByText(NODE, { exact: true }).waitFor({ state: 'detached' });
    });

    await step('uploads: usage, a file, delete', async () => {
        const id = env('EMBER_UPLOAD_ID'), name = env('EMBER_UPLOAD_NAME');
        await nav('Uploads', 'Uploaded files');
        await page.getByRole('table', { name: 'Files' }).getByText(name, { exact: true }).waitFor();
        await page.getByRole('table', { name: 'Usage' }).getByText('uploader@' + DOMAIN).waitFor();
        await shot('uploads');
        await page.getByRole('button', { name: 'Delete ' + id }).click();
        await page.getByRole('button', { name: 'Confirm delete ' + id }).click();
        await page.getByRole('status').filter({ hasText: 'File deleted' }).waitFor();
        await page.getByText('No files.').waitFor();
    });

    await step('archives: an account\'s messages', async () => {
        await nav('Archives', 'Message archives');
        await page.getByRole('textbox', { name: 'Account' }).fill('uploader@' + DOMAIN);
        await page.getByRole('button', { name: 'Show' }).click();
        await page.getByRole('table', { name: 'Archive' })
            .getByText('archived for the console').waitFor();
        await shot('archives');
    });

    await step('announcement reaches the online client', async () => {
        await nav('Sessions', 'Sessions');
        await page.getByLabel('Announcement text').fill('Console announcement ' + process.pid);
        await page.getByRole('button', { name: 'Send announcement' }).click();
        await page.getByRole('status').filter({ hasText: 'Announcement sent' }).waitFor();
        await waitSlix(owner, 'MESSAGE Console announcement ' + process.pid, 10000);
    });

    await step('settings: config editor shows a diff', async () => {
        await nav('Settings', 'Server settings');
        const ta = page.getByLabel('Configuration (XML)');
        await page.waitForFunction(() => document.getElementById('config-text').value.length > 20);
        const text = await ta.inputValue();
        const edited = text.replace(/<\/ember>\s*$/, '  <!-- edited by the console test -->\n</ember>\n');
        if (edited === text) throw new Error('config text has no closing root element');
        await ta.fill(edited);
        await page.getByRole('button', { name: 'Show diff' }).click();
        await page.locator('#config-diff .add').filter({ hasText: 'edited by the console test' }).waitFor();
        await page.getByRole('button', { name: 'Check' }).click();
        await page.getByText(/valid|Problems/).first().waitFor();
        await shot('settings');
    });

    await step('settings: save and reload', async () => {
        await page.getByRole('button', { name: 'Save and reload' }).click();
        await page.getByRole('status').filter({ hasText: 'saved and reloaded' }).waitFor();
        const again = await page.getByLabel('Configuration (XML)').inputValue();
        if (!again.includes('edited by the console test'))
            throw new Error('the saved config does not have the edit');
    });

    await step('settings: typed limits, checked by field, diff, then applied', async () => {
        const f = page.getByRole('form', { name: 'Limits' });
        const idle = f.getByLabel(/^idle-timeout/);
        await idle.fill('soon');
        await f.getByRole('button', { name: 'Review changes' }).click();
        await f.getByRole('alert').filter({ hasText: 'idle-timeout must be a duration' }).waitFor();
        await idle.fill('15m');
        await f.getByRole('button', { name: 'Review changes' }).click();
        const limits = page.getByRole('region', { name: 'Limits' });
        await limits.getByText('idle-timeout="15m"').first().waitFor();
        await shot('settings-typed');
        await limits.getByRole('button', { name: 'Save and apply' }).click();
        await page.getByRole('status').filter({ hasText: 'Limits saved and applied' }).waitFor();
        await waitValue(() => page.getByRole('form', { name: 'Limits' }).getByLabel(/^idle-timeout/), '900');
        const ca = page.getByRole('form', { name: 'Server-to-server links' }).getByLabel('ca-file');
        if (!(await ca.evaluate(e => e.readOnly))) throw new Error('ca-file is editable');
    });

    await step('settings: listeners checked next to the field, a clash named by its line', async () => {
        const f = page.getByRole('form', { name: /^c2s on / });
        const port = f.getByLabel('port', { exact: true });
        await port.fill('70000');
        await f.getByRole('button', { name: 'Review changes' }).click();
        await f.locator('.field-error').filter({ hasText: 'port must be between 1 and 65535' }).waitFor();
        const tlsForm = page.getByRole('form', { name: /^c2s-tls on / });
        const tlsPort = await tlsForm.getByLabel('port', { exact: true }).inputValue();
        await port.fill(tlsPort);
        await f.getByRole('button', { name: 'Review changes' }).click();
        const region = page.getByRole('region', { name: 'Listeners and HTTP transports' });
        await region.getByText(/would not load: line \d+: listen: .* already used/).waitFor();
        await shot('settings-listeners');
        const cert = page.getByRole('form', { name: 'Default certificate' }).getByLabel('cert');
        if (!(await cert.evaluate(e => e.readOnly))) throw new Error('the certificate file is editable');
    });

    await step('settings: add an external component, its secret never shown, then remove it', async () => {
        const secret = 'console-component-secret-' + process.pid;
        const domain = 'gw.' + DOMAIN;
        const add = page.getByRole('form', { name: 'Add a component' });
        await add.getByLabel('domain', { exact: true }).fill(domain);
        await add.getByLabel('secret', { exact: true }).fill(secret);
        await add.getByLabel('name', { exact: true }).fill('Console gateway');
        await add.getByRole('button', { name: 'Review new component' }).click();
        const region = page.getByRole('region', { name: 'External components' });
        await region.locator('#config-diff .add').filter({ hasText: 'domain="' + domain + '"' }).waitFor();
        const diff = await region.locator('#config-diff').first().textContent();
        if (diff.includes(secret) || !diff.includes('(new secret)'))
            throw new Error('the diff shows the secret: ' + diff);
        await region.getByRole('button', { name: 'Save and apply' }).click();
        await page.getByRole('status').filter({ hasText: 'saved and applied' }).first().waitFor();
        const mine = page.getByRole('form', { name: domain });
        await mine.waitFor();
        if (await mine.getByLabel('secret', { exact: true }).inputValue() !== '')
            throw new Error('the secret is shown back');
        if ((await page.content()).includes(secret)) throw new Error('the page holds the secret');
        await shot('settings-components');
        await mine.getByRole('button', { name: 'Remove ' + domain }).click();
        await mine.getByRole('button', { name: 'Confirm remove ' + domain }).click();
        await region.locator('#config-diff .del').filter({ hasText: 'domain="' + domain + '"' }).waitFor();
        await region.getByRole('button', { name: 'Save and apply' }).click();
        await page.getByRole('form', { name: domain }).waitFor({ state: 'detached' });
    });

    await step('certificates page', async () => {
        await nav('Certificates', 'TLS certificates');
        await page.getByRole('table', { name: 'Certificates' }).waitFor();
        await shot('certs');
    });

    await step('certificates: upload a certificate and key', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'ember-cert-'));
        try {
            execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
                'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=' + DOMAIN,
                '-addext', 'subjectAltName=DNS:' + DOMAIN, '-keyout', join(dir, 'key.pem'),
                '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
            const f = page.getByRole('form', { name: 'Upload certificate and key' });
            await f.getByLabel('Certificate (PEM)').fill('not a certificate');
            await f.getByLabel('Private key (PEM)').fill('nor a key');
            await f.getByRole('button', { name: 'Upload' }).click();
            await f.getByRole('alert').filter({ hasText: 'must be PEM' }).waitFor();
            await f.getByLabel('Certificate file').setInputFiles(join(dir, 'cert.pem'));
            await f.getByLabel('Key file').setInputFiles(join(dir, 'key.pem'));
            await waitValue(() => f.getByLabel('Private key (PEM)'),
                            readFileSync(join(dir, 'key.pem'), 'utf8'));
            await f.getByRole('button', { name: 'Upload' }).click();
            await page.getByRole('status').filter({ hasText: 'Certificate installed' }).waitFor();
            // 30 days left: the uploaded one is in use.
            await page.getByRole('table', { name: 'Certificates' }).getByText(/^(29|30)$/).first().waitFor();
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    await step('certificates: generate a self-signed one', async () => {
        await page.getByRole('button', { name: 'Generate' }).click();
        await page.getByRole('status').filter({ hasText: 'Self-signed certificate generated' }).waitFor();
        await page.getByRole('table', { name: 'Certificates' }).getByText(DOMAIN, { exact: true }).first().waitFor();
    });

    await step('certificates: a signing request to give a CA', async () => {
        await page.getByLabel('More names (comma separated, under the host)').fill('conference.' + DOMAIN);
        await page.getByRole('button', { name: 'Make request' }).click();
        await page.getByRole('status').filter({ hasText: 'Signing request made' }).waitFor();
        const pem = await page.getByLabel('Signing request (PEM)').inputValue();
        if (!/^-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem))
            throw new Error('no CSR shown: ' + pem.slice(0, 80));
        await page.getByRole('link', { name: 'Download ' + DOMAIN + '.csr' }).waitFor();
        await shot('certs-request');
    });

    await step('logs: live tail shows a new line', async () => {
        await nav('Logs', 'Logs');
        await page.getByText('Live', { exact: true }).waitFor();
        const before = Number(await page.locator('#log-lines').getAttribute('data-lines') || 0);
        // Something that logs a warning: a failed console login (the second
        // of the run, far below the lockout threshold).
        const r = await page.request.post(URL_ + 'api/v1/login', {
            data: { jid: 'nobody@' + DOMAIN, password: 'wrong-password' } });
        if (r.status() !== 401) throw new Error('failed login answered ' + r.status());
        await page.waitForFunction((n) => Number(document.getElementById('log-lines').dataset.lines || 0) > n,
                                   before, { timeout: 10000 });
        await shot('logs');
    });

    await step('logs: level filter', async () => {
        await page.getByLabel('Minimum level').selectOption('warn');
        await page.waitForFunction(() => Number(document.getElementById('log-lines').dataset.lines || 0) > 0);
        const bad = await page.locator('#log-lines span:not(.lvl-warn):not(.lvl-warning):not(.lvl-error)').count();
        if (bad) throw new Error(bad + ' lines below warn shown');
    });

    await step('audit log: the admin\'s own actions, filtered', async () => {
        await nav('Audit log', 'Audit log');
        const t = page.getByRole('table', { name: 'Audit log' });
        await t.getByText('console-login', { exact: true }).first().waitFor();
        await t.getByText(ADMIN, { exact: true }).first().waitFor();
        await page.getByRole('textbox', { name: 'Action' }).fill('cert-generate');
        await page.getByRole('button', { name: 'Filter' }).click();
        await page.waitForFunction(() => {
            const cells = [...document.querySelectorAll('#audit-list td[data-label="Action"]')];
            return cells.length > 0 && cells.every(c => c.textContent === 'cert-generate');
        });
        await shot('audit');
    });

    await step('session expiry sends back to the login page', async () => {
        await context.clearCookies();
        await nav('Users', 'Users').catch(() => {});
        await page.waitForURL(/#\/login$/);
        await page.getByText('Your session expired').waitFor();
        await page.getByLabel('JID', { exact: true }).fill(ADMIN);
        await page.getByLabel('Password', { exact: true }).fill(ADMIN_PW);
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    });

    await step('API keys: create one, shown once', async () => {
        await nav('API keys', 'API keys');
        await page.getByLabel('Key name').fill('ci-key');
        await page.getByRole('button', { name: 'Create key' }).click();
        const key = (await page.locator('#new-key').textContent()) || '';
        if (key.length < 16) throw new Error('key too short: ' + key);
        await page.getByRole('table', { name: 'API keys' }).getByText('ci-key').waitFor();
        const m = await page.request.get(URL_ + 'metrics', { headers: { Authorization: 'Bearer ' + key } });
        if (m.status() !== 200) throw new Error('/metrics with the new key: ' + m.status());
        await shot('keys');
        await page.getByRole('button', { name: 'Revoke ci-key' }).click();
        await page.getByRole('button', { name: 'Confirm revoke ci-key' }).click();
        await page.getByRole('status').filter({ hasText: 'revoked' }).waitFor();
        await page.getByText('No API keys yet.').waitFor();
        const m2 = await page.request.get(URL_ + 'metrics', { headers: { Authorization: 'Bearer ' + key } });
        if (m2.status() !== 401) throw new Error('/metrics with a revoked key: ' + m2.status());
    });

    await step('every page at phone size, through the collapsed menu', async () => {
        await page.setViewportSize(PHONE);
        try {
            for (const [label, heading, name] of [
                    ['Users', 'Users', 'users'], ['Sessions', 'Sessions', 'sessions'],
                    ['Modules', 'Modules', 'modules'], ['Rooms', 'Group chat rooms', 'rooms'],
                    ['Pubsub nodes', 'Pubsub nodes', 'nodes'], ['Uploads', 'Uploaded files', 'uploads'],
                    ['Archives', 'Message archives', 'archives'],
                    ['Settings', 'Server settings', 'settings'],
                    ['Certificates', 'TLS certificates', 'certs'], ['Logs', 'Logs', 'logs'],
                    ['Audit log', 'Audit log', 'audit'],
                    ['API keys', 'API keys', 'keys'], ['Groups', 'Shared roster groups', 'groups']]) {
                await page.getByRole('button', { name: 'Menu' }).click();
                await nav(label, heading);
                await page.locator('main .card').first().waitFor();
                await page.waitForTimeout(300);
                const wide = await page.evaluate(() =>
                    document.documentElement.scrollWidth > window.innerWidth + 1);
                if (wide) throw new Error(name + ' scrolls sideways at phone size');
                await shot(name + '-phone');
            }
        } finally {
            await page.setViewportSize(DESKTOP);
        }
    });

    await step('logout', async () => {
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL(/#\/login$/);
        await page.getByRole('heading', { name: 'Log in to Ember' }).waitFor();
        const s = await page.request.get(URL_ + 'api/v1/session');
        if (s.status() !== 401) throw new Error('session still valid after logout: ' + s.status());
        await shot('logged-out');
    });

    await step('no console errors or CSP violations', async () => {
        if (problems.length) throw new Error(problems.join(' ;; '));
    });
} finally {
    for (const c of clients) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
}

console.log('\n---- summary ----');
for (const [n, r, d] of results) console.log(r.padEnd(5) + ' ' + n + (r === 'PASS' ? '' : ' — ' + d));
if (apiErrors.length) console.log('handled API error answers: ' + [...new Set(apiErrors)].join(', '));
console.log('screenshots in ' + SHOTS);
const failed = results.filter(r => r[1] !== 'PASS');
if (failed.length) {
    console.log(failed.length + ' STEP(S) FAILED');
    process.exit(1);
}
console.log('ALL STEPS PASSED');
