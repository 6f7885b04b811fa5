// The console's Groups page (mod_groups) in headless Chromium: create two
// groups, add members, show one to the other, rename, remove a member and
// delete, checking each step against the REST API.  Run by
// tests/integration/test_groups.py against a real emberd; the environment:
//   EMBER_CONSOLE_URL  EMBER_ADMIN_JID  EMBER_ADMIN_PASSWORD
//   EMBER_DOMAIN  EMBER_SCREENSHOT_DIR
// Prints "GROUPS PASSED" and exits 0 when every check held; any console
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
const DOMAIN = env('EMBER_DOMAIN');
const SHOTS = env('EMBER_SCREENSHOT_DIR');
const T = 10000;

mkdirSync(SHOTS, { recursive: true });
const problems = [];
const { profile, context, page } = await launchChromium(
    { width: 1280, height: 800 }, T);
page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The browser logs the 4xx the page is expected to show.
    if (/status of 4\d\d/.test(m.text())) return;
    problems.push(m.text());
});
page.on('pageerror', (e) => problems.push(String(e)));

const shot = (name) => page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });
const rest = async (path) => {
    const r = await page.request.get(URL_ + 'api/v1/' + path);
    if (!r.ok()) throw new Error(path + ': ' + r.status());
    return r.json();
};
const expectEq = (what, got, want) => {
    if (JSON.stringify(got) !== JSON.stringify(want))
        throw new Error(what + ': ' + JSON.stringify(got) + ' != ' + JSON.stringify(want));
};
const groupsForm = () => page.locator('form[aria-label="New group"]');
const row = (id) => page.locator('table[aria-label="Groups"] tr[data-group="' + id + '"]');

async function create(id, name) {
    await groupsForm().getByLabel('Id').fill(id);
    await groupsForm().getByLabel('Roster group name').fill(name);
    await groupsForm().getByRole('button', { name: 'Create group' }).click();
    await page.locator('section[aria-label="Group ' + id + '"]').waitFor();
}

async function addMember(id, jid) {
    const f = page.locator('form[aria-label="Add a member"]');
    await f.getByLabel('JID').fill(jid);
    await f.getByRole('button', { name: 'Add member' }).click();
    await page.locator('tr[data-member="' + jid + '"]').waitFor();
}

let code = 1;
try {
    const r = await page.request.post(URL_ + 'api/v1/login', {
        data: { jid: env('EMBER_ADMIN_JID'), password: env('EMBER_ADMIN_PASSWORD') } });
    if (!r.ok()) throw new Error('login: ' + r.status());
    await page.goto(URL_ + '#/groups');
    await page.getByText('No groups yet.').waitFor();
    await shot('groups-empty');

    // A bad id is refused in the page, a duplicate by the server.
    await groupsForm().getByLabel('Id').fill('bad id!');
    await groupsForm().getByLabel('Roster group name').fill('X');
    await groupsForm().getByRole('button', { name: 'Create group' }).click();
    await groupsForm().locator('.error').filter({ hasText: 'The id is' }).waitFor();

    await create('staff', 'Staff');
    await addMember('staff', 'alice@' + DOMAIN);
    await page.goto(URL_ + '#/groups');
    await create('sales', 'Sales');
    await addMember('sales', 'bob@' + DOMAIN);
    await addMember('sales', 'carol@' + DOMAIN);
    // Unknown account: the server's message next to the form.
    const f = page.locator('form[aria-label="Add a member"]');
    await f.getByLabel('JID').fill('nobody@' + DOMAIN);
    await f.getByRole('button', { name: 'Add member' }).click();
    await f.locator('.error').filter({ hasText: 'no such account' }).waitFor();

    // Who sees whom: sales hidden from its own members, shown to staff.
    await page.locator('input[data-to="@members"]').uncheck();
    await page.getByText('Shown as "Sales" to nobody (hidden).').waitFor();
    await page.locator('input[data-to="staff"]').check();
    await page.getByText('Shown as "Sales" to members of staff.').waitFor();
    expectEq('sales', await rest('groups/sales'), {
        id: 'sales', name: 'Sales', show_to: ['staff'],
        members: ['bob@' + DOMAIN, 'carol@' + DOMAIN] });
    await shot('groups-sales');

    // Rename, remove a member.
    const rn = page.locator('form[aria-label="Rename"]');
    await rn.getByLabel('Roster group name').fill('Sales team');
    await rn.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('Shown as "Sales team"').waitFor();
    await page.getByRole('button', { name: 'Remove carol@' + DOMAIN }).click();
    await page.locator('tr[data-member="carol@' + DOMAIN + '"]').waitFor({ state: 'detached' });
    await row('sales').locator('td[data-label="Shown to"]')
        .filter({ hasText: 'members of staff' }).waitFor();
    await row('staff').locator('td[data-label="Members"]').filter({ hasText: '1' }).waitFor();
    await shot('groups-list');
    expectEq('sales members', (await rest('groups/sales')).members, ['bob@' + DOMAIN]);

    // Delete: pressed twice.
    const del = page.getByRole('button', { name: 'Delete group' });
    await del.click();
    await page.getByRole('button', { name: 'Confirm delete group' }).click();
    await row('sales').waitFor({ state: 'detached' });
    expectEq('groups left', (await rest('groups')).groups.map(g => g.id), ['staff']);

    // A phone-sized screen still shows the page.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(URL_ + '#/groups/staff');
    await page.locator('section[aria-label="Group staff"]').waitFor();
    if (await page.evaluate(() =>
            document.documentElement.scrollWidth > window.innerWidth + 1))
        throw new Error('the page scrolls sideways at phone size');
    await shot('groups-phone');

    if (problems.length) throw new Error('page problems: ' + problems.join(' | '));
    console.log('GROUPS PASSED');
    code = 0;
} catch (e) {
    console.log('FAIL ' + String(e && e.message || e).split('\n').slice(0, 6).join(' | '));
    if (problems.length) console.log('problems: ' + problems.join(' | '));
    try { await page.screenshot({ path: join(SHOTS, 'FAILED-groups.png'), fullPage: true }); }
    catch (_) { /* page gone */ }
} finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
