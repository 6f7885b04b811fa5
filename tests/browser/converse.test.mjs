// Converse.js (npm, as it ships) in Debian's headless chromium against a
// real emberd over XMPP-over-WebSocket.  Run by
// tests/integration/test_converse_browser.py, which serves the page and
// plays the other side (bob) with a raw XMPP client:
//   EMBER_PAGE_URL  the page (its query carries the WebSocket URL)
//   EMBER_JID, EMBER_PASSWORD, EMBER_PEER (bob's JID), EMBER_ROOM
//   EMBER_SCREENSHOT_DIR
// Prints PASS/FAIL per step and "ALL STEPS PASSED"; any console error or
// uncaught exception in the page fails the run.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k) => {
    const v = process.env[k];
    if (v === undefined) { console.error('missing env ' + k); process.exit(2); }
    return v;
};
const PAGE = env('EMBER_PAGE_URL');
const JID = env('EMBER_JID');
const PEER = env('EMBER_PEER');
const ROOM = env('EMBER_ROOM');
const SHOTS = env('EMBER_SCREENSHOT_DIR');
const T = 20000;

mkdirSync(SHOTS, { recursive: true });
const results = [];
const problems = [];
let aborted = false;

async function step(name, fn, { critical = false } = {}) {
    if (aborted) { results.push([name, 'SKIP']); return; }
    const t0 = Date.now();
    try {
        await fn();
        results.push([name, 'PASS']);
        console.log('PASS  ' + name + ' (' + (Date.now() - t0) + ' ms)');
    } catch (e) {
        const msg = String(e && e.message || e).split('\n').slice(0, 6).join(' | ');
        results.push([name, 'FAIL']);
        console.log('FAIL  ' + name + ': ' + msg);
        try { await page.screenshot({ path: join(SHOTS, 'FAILED-' + name.replace(/\W+/g, '-') + '.png') }); }
        catch (_) { /* page gone */ }
        if (critical) aborted = true;
    }
}

const profile = mkdtempSync(join(tmpdir(), 'ember-converse-'));
const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
});
context.setDefaultTimeout(T);
const page = context.pages()[0] || await context.newPage();
// The machine has no network: Converse's own decoration from its website
// (sponsor logos on the login view) gets an empty image instead of a DNS
// failure.  Nothing the test checks comes from there.
await context.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) =>
    route.fulfill({ status: 200, contentType: 'image/svg+xml',
                    body: '<svg xmlns="http://www.w3.org/2000/svg"/>' }));
page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error') problems.push('console error: ' + text);
    if (process.env.EMBER_VERBOSE) console.log('page: ' + text);
});
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('requestfailed', (r) => console.log('request failed: ' + r.url() + ' ' +
                                            (r.failure() && r.failure().errorText)));
page.on('response', (r) => { if (r.status() >= 400) console.log('HTTP ' + r.status() + ' ' + r.url()); });

try {
    await step('Converse logs in', async () => {
        await page.goto(PAGE);
        await page.waitForFunction(() => window.emberTest && window.emberTest.connected,
                                   null, { timeout: T });
        await page.screenshot({ path: join(SHOTS, 'converse-logged-in.png') });
    }, { critical: true });

    await step('a chat with a TCP client, both ways', async () => {
        await page.evaluate((peer) => window.emberTest.api.chats.open(peer), PEER);
        const box = page.locator('converse-chat textarea.chat-textarea').first();
        await box.waitFor();
        await box.fill('hello from converse');
        await box.press('Enter');
        await page.locator('.chat-msg__text', { hasText: 'pong: hello from converse' })
            .first().waitFor();
        await page.screenshot({ path: join(SHOTS, 'converse-chat.png') });
    });

    await step('sends a picture by HTTP File Upload, the peer downloads it', async () => {
        const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'),
                                   randomBytes(4096)]);
        const sha = createHash('sha256').update(png).digest('hex').slice(0, 16);
        const file = join(profile, 'picture.png');
        writeFileSync(file, png);
        await page.locator('converse-chat input.fileupload').first().setInputFiles(file);
        await page.locator('.chat-msg__text', {
            hasText: 'bob downloaded ' + png.length + ' bytes, sha256 ' + sha })
            .first().waitFor();
        await page.screenshot({ path: join(SHOTS, 'converse-upload.png') });
    });

    await step('joins a room and talks in it', async () => {
        await page.evaluate((room) =>
            window.emberTest.api.rooms.open(room, { nick: 'alice-web' }), ROOM);
        // As a user does: pick the room in the list to bring it up.
        await page.getByText(ROOM.split('@')[0], { exact: true }).first().click();
        const box = page.locator('converse-muc textarea.chat-textarea').first();
        await box.waitFor();
        await box.fill('hello room');
        await box.press('Enter');
        await page.locator('converse-muc .chat-msg__text', { hasText: 'hello room' })
            .first().waitFor();
        await page.locator('converse-muc .chat-msg__text', { hasText: 'bob heard: hello room' })
            .first().waitFor();
        await page.screenshot({ path: join(SHOTS, 'converse-room.png') });
    });
} finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
}

for (const p of problems) console.log('PROBLEM ' + p);
const failed = results.filter(r => r[1] !== 'PASS').length;
if (failed === 0 && problems.length === 0) {
    console.log('ALL STEPS PASSED');
    process.exit(0);
}
process.exit(1);
