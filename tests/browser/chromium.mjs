// Debian's chromium, headless, on a fresh profile, with CSP violations
// reported as console errors: what every console browser test starts from.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function launchChromium(viewport, timeout) {
    const profile = mkdtempSync(join(tmpdir(), 'ember-chromium-'));
    // A fresh profile directory: playwright passes it as --user-data-dir.
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        viewport,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });
    context.setDefaultTimeout(timeout);
    await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
            console.error('CSP violation: ' + e.violatedDirective + ' blocked ' +
                          (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' +
                          e.lineNumber);
        });
    });
    const page = context.pages()[0] || await context.newPage();
    return { profile, context, page };
}
