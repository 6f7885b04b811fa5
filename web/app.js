// Ember admin console: hash router, session handling, login and setup.
import { state, api, h, clear, form, notice, validateJid, validatePassword,
         setUnauthorizedHandler, ApiError } from './util.js';
import * as P from './pages.js';
import * as Q from './pages-admin.js';
import * as G from './pages-groups.js';

const routes = {
    dashboard: P.dashboard, users: P.users, sessions: P.sessions,
    modules: P.modules, groups: G.groups, rooms: Q.rooms, nodes: Q.nodes, uploads: Q.uploads, archives: Q.archives,
    settings: Q.settings,
    certs: Q.certs, logs: Q.logs, audit: Q.audit, keys: Q.keys,
    login: loginPage, setup: setupPage,
};
const PUBLIC = new Set(['login', 'setup']);
let loginMessage = null;

function parseHash() {
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    const name = parts.shift() || 'dashboard';
    const arg = parts.length ? decodeURIComponent(parts.join('/')) : null;
    return { name, arg };
}

export function go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
}

function leave() {
    state.gen++;
    for (const fn of state.cleanups.splice(0)) {
        try { fn(); } catch (e) { /* page already gone */ }
    }
}

async function render() {
    leave();
    const { name, arg } = parseHash();
    const main = document.getElementById('main');
    const layout = document.getElementById('layout');
    const page = routes[name] ? name : 'dashboard';
    if (!PUBLIC.has(page) && !state.session) {
        if (!(await loadSession())) return;
    }
    layout.classList.toggle('nosession', !state.session);
    document.getElementById('logout').hidden = !state.session;
    document.getElementById('whoami').textContent =
        state.session ? state.session.jid : '';
    for (const a of document.querySelectorAll('#nav a')) {
        if (a.dataset.route === page) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
    }
    closeMenu();
    clear(main);
    main.dataset.page = page;
    document.title = 'Ember – ' + page;
    try {
        await routes[page](main, arg);
    } catch (e) {
        if (e instanceof ApiError && e.status === 401) return;
        main.appendChild(notice('This page failed to load: ' + e.message, 'bad'));
    }
}

// GET /api/v1/session decides where the console starts.
async function loadSession() {
    try {
        state.session = await api('GET', '/api/v1/session', undefined,
                                  { allow401: true });
        await loadHosts();
        return true;
    } catch (e) {
        state.session = null;
        if (e instanceof ApiError && e.status === 401 && e.body.setup_needed)
            go('#/setup');
        else
            go('#/login');
        return false;
    }
}

async function loadHosts() {
    try {
        const st = await api('GET', '/api/v1/stats');
        state.hosts = (st && st.hosts) || [];
    } catch (e) {
        state.hosts = [];
    }
}

setUnauthorizedHandler(() => {
    if (!state.session) return;
    state.session = null;
    loginMessage = 'Your session expired. Please log in again.';
    go('#/login');
});

function closeMenu() {
    document.getElementById('layout').classList.remove('menu-open');
    document.getElementById('menu-toggle').setAttribute('aria-expanded', 'false');
}

async function loginPage(main) {
    if (state.session) { go('#/dashboard'); return; }
    const msg = loginMessage;
    loginMessage = null;
    main.appendChild(h('div', { class: 'auth' },
        h('h1', {}, 'Log in to Ember'),
        msg ? notice(msg, 'warn') : null,
        form({
            title: null, submit: 'Log in',
            fields: [
                { name: 'jid', label: 'JID', required: true, autocomplete: 'username',
                  placeholder: 'admin@example.org', validate: validateJid },
                { name: 'password', label: 'Password', type: 'password',
                  required: true, autocomplete: 'current-password' },
            ],
            onSubmit: async (v) => {
                state.session = await api('POST', '/api/v1/login',
                    { jid: v.jid, password: v.password }, { allow401: true });
                await loadHosts();
                go('#/dashboard');
            },
        })));
}

async function setupPage(main) {
    let needed = true, host = location.hostname;
    try {
        const s = await api('GET', '/api/v1/setup', undefined, { allow401: true });
        needed = !!(s && s.needed);
        if (s && s.host) host = s.host;
    } catch (e) { /* the form will show the server's answer */ }
    if (!needed) { go('#/login'); return; }
    main.appendChild(h('div', { class: 'auth' },
        h('h1', {}, 'Welcome to Ember'),
        h('p', {}, 'No administrator exists yet. Create the first admin ' +
                   'account (only possible from this machine).'),
        h('p', {}, 'The setup token is in the server\'s log, or run ' +
                   'emberctl console-setup-token.'),
        form({
            submit: 'Create admin',
            fields: [
                { name: 'token', label: 'Setup token', required: true,
                  autocomplete: 'off' },
                { name: 'jid', label: 'Admin JID', required: true,
                  placeholder: 'admin@' + host,
                  validate: validateJid },
                { name: 'password', label: 'Password', type: 'password',
                  required: true, autocomplete: 'new-password',
                  validate: validatePassword },
                { name: 'confirm', label: 'Repeat password', type: 'password',
                  required: true, autocomplete: 'new-password',
                  validate: (v, i) => v === i.password.value ? null
                      : 'The passwords differ.' },
            ],
            onSubmit: async (v) => {
                await api('POST', '/api/v1/setup',
                          { jid: v.jid, password: v.password, token: v.token.trim() },
                          { allow401: true });
                loginMessage = 'Admin ' + v.jid + ' created. Log in now.';
                go('#/login');
            },
        })));
}

function init() {
    document.getElementById('logout').addEventListener('click', async () => {
        try { await api('POST', '/api/v1/logout'); } catch (e) { /* gone anyway */ }
        state.session = null;
        leave();
        loginMessage = 'You are logged out.';
        go('#/login');
    });
    document.getElementById('menu-toggle').addEventListener('click', () => {
        const l = document.getElementById('layout');
        const open = l.classList.toggle('menu-open');
        document.getElementById('menu-toggle')
            .setAttribute('aria-expanded', open ? 'true' : 'false');
    });
    window.addEventListener('hashchange', render);
    render();
}

init();
