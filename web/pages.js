// Pages: dashboard, users, sessions, modules.
import { state, api, h, clear, enc, form, table, dl, errorBox, toast,
         confirmButton, actionButton, section, every, onLeave, fmtBytes,
         fmtDuration, fmtValue, listOf, encPath, hostSelectOptions, validateJid,
         validatePassword, unavailable, errorText } from './util.js';
import { LineChart } from './chart.js';

function pick(o, ...keys) {
    for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
    return undefined;
}

// The status command grows fields over time; read each figure from
// whichever name the server uses.
function figures(st) {
    const rssKib = pick(st, 'rss_kib');
    const stanzas = st.stanzas || {};
    return {
        version: st.version, uptime: pick(st, 'uptime_s', 'uptime'),
        hosts: st.hosts || [], listeners: st.listeners || [],
        components: st.components || [],
        s2s: st.s2s || [],
        sessions: pick(st, 'sessions'), connections: pick(st, 'connections'),
        inTotal: pick(st, 'stanzas_in', 'stanzas_in_total') ?? stanzas.in,
        outTotal: pick(st, 'stanzas_out', 'stanzas_out_total') ?? stanzas.out,
        inRate: pick(st, 'stanzas_in_per_s', 'in_per_s'),
        outRate: pick(st, 'stanzas_out_per_s', 'out_per_s'),
        memory: pick(st, 'memory_rss', 'memory_rss_bytes', 'rss_bytes', 'memory_bytes') ??
                (rssKib !== undefined ? rssKib * 1024 : undefined),
        storage: pick(st, 'storage_bytes', 'storage_size'),
    };
}

export async function dashboard(main) {
    const gen = state.gen;
    main.appendChild(h('h1', {}, 'Dashboard'));
    const err = errorBox();
    const vals = {};
    const card = (key, label) => {
        vals[key] = h('span', { class: 'value', id: 'stat-' + key }, '–');
        return h('div', { class: 'stat' }, h('span', { class: 'label' }, label),
                 vals[key]);
    };
    const charts = {
        sessions: new LineChart('Online sessions', { format: v => String(Math.round(v)) }),
        in: new LineChart('Stanzas in per second'),
        out: new LineChart('Stanzas out per second'),
        memory: new LineChart('Memory', { format: fmtBytes }),
        storage: new LineChart('Storage size', { format: fmtBytes }),
    };
    const chartBox = (c) => h('figure', { class: 'chart-box' },
        h('figcaption', {}, c.label), c.canvas);
    const updated = h('p', { class: 'muted', id: 'stats-updated',
                             'aria-live': 'off' }, 'Waiting for figures…');
    const listeners = h('div', {});
    const hosts = h('div', {});
    // External components (XEP-0114): shown once the config has one.
    const components = h('div', {});
    const componentsCard = section('External components', components);
    componentsCard.hidden = true;
    // Links with other servers: shown while there are any.
    const links = h('div', {});
    const linksCard = section('Server-to-server links', links);
    linksCard.hidden = true;
    main.append(err,
        h('div', { class: 'stats' },
            card('version', 'Version'), card('uptime', 'Uptime'),
            card('sessions', 'Online sessions'), card('connections', 'Connections'),
            card('in', 'Stanzas in/s'), card('out', 'Stanzas out/s'),
            card('memory', 'Memory (RSS)'), card('storage', 'Storage size')),
        updated,
        h('div', { class: 'charts' },
            Object.values(charts).map(chartBox)),
        h('div', { class: 'two' },
            section('Hosts', hosts), section('Listeners', listeners)),
        componentsCard, linksCard);

    let prev = null, updates = 0;
    const apply = (st) => {
        const f = figures(st);
        const now = performance.now();
        let inRate = f.inRate, outRate = f.outRate;
        if (inRate === undefined && prev && f.inTotal !== undefined) {
            const dt = (now - prev.t) / 1000;
            inRate = dt > 0 ? Math.max(0, (f.inTotal - prev.in) / dt) : 0;
            outRate = dt > 0 ? Math.max(0, (f.outTotal - prev.out) / dt) : 0;
        }
        prev = { t: now, in: f.inTotal, out: f.outTotal };
        vals.version.textContent = f.version || '–';
        vals.uptime.textContent = fmtDuration(f.uptime);
        vals.sessions.textContent = fmtValue(f.sessions);
        vals.connections.textContent = fmtValue(f.connections);
        vals.in.textContent = inRate === undefined ? '–' : inRate.toFixed(1);
        vals.out.textContent = outRate === undefined ? '–' : outRate.toFixed(1);
        vals.memory.textContent = fmtBytes(f.memory);
        vals.storage.textContent = fmtBytes(f.storage);
        charts.sessions.push(Number(f.sessions));
        if (inRate !== undefined) charts.in.push(inRate);
        if (outRate !== undefined) charts.out.push(outRate);
        if (f.memory !== undefined) charts.memory.push(Number(f.memory));
        if (f.storage !== undefined) charts.storage.push(Number(f.storage));
        updates++;
        updated.dataset.updates = String(updates);
        updated.textContent = 'Updated ' + new Date().toLocaleTimeString() +
            ' (live, every 2 s)';
        clear(hosts).appendChild(h('ul', { class: 'plain' },
            f.hosts.map(x => h('li', {}, x))));
        clear(listeners).appendChild(table(f.listeners, [
            { key: 'type', label: 'Type' }, { key: 'address', label: 'Address' },
            { key: 'port', label: 'Port' }, { key: 'tls', label: 'TLS' }]));
        componentsCard.hidden = f.components.length === 0;
        clear(components).appendChild(table(f.components, [
            { key: 'domain', label: 'Domain' }, { key: 'name', label: 'Name' },
            { key: 'connected', label: 'Connected' },
            { key: 'address', label: 'From' },
            { key: 'stanzas_in', label: 'Stanzas in' },
            { key: 'stanzas_out', label: 'Stanzas out' }],
            { rowAttrs: r => ({ 'data-component': r.domain }) }));
        linksCard.hidden = f.s2s.length === 0;
        clear(links).appendChild(table(f.s2s, [
            { key: 'remote', label: 'Remote domain' },
            { key: 'local', label: 'Local domain' },
            { key: 'direction', label: 'Direction' },
            { key: 'state', label: 'State' },
            { key: 'auth', label: 'Authentication' },
            { key: 'tls', label: 'TLS' },
            { key: 'certificate', label: 'Certificate' },
            { key: 'stanzas_in', label: 'Stanzas in' },
            { key: 'stanzas_out', label: 'Stanzas out' },
            { key: 'queued', label: 'Queued' }],
            { rowAttrs: r => ({ 'data-link': r.direction + ' ' + r.remote }) }));
    };

    try {
        apply(await api('GET', '/api/v1/stats'));
    } catch (e) { err.show(e); }
    if (gen !== state.gen) return;

    // Live figures by server-sent events; polling if the stream fails.
    let polling = null;
    const es = new EventSource('/api/v1/stats/stream');
    onLeave(() => es.close());
    es.addEventListener('stats', (ev) => {
        try { apply(JSON.parse(ev.data)); err.show(null); } catch (e) { err.show(e); }
    });
    es.addEventListener('error', () => {
        if (es.readyState === EventSource.CLOSED && !polling) {
            polling = every(2000, async () => {
                try { apply(await api('GET', '/api/v1/stats')); }
                catch (e) { err.show(e); }
            });
        }
    });
    const onResize = () => Object.values(charts).forEach(c => c.draw());
    window.addEventListener('resize', onResize);
    onLeave(() => window.removeEventListener('resize', onResize));
}

// ---- users ----

const PAGE = 20;

function userJid(u) {
    if (typeof u === 'string') return u;
    return u.jid || (u.user && u.host ? u.user + '@' + u.host : u.user || u.name);
}

export async function users(main, arg) {
    if (arg) return userDetail(main, arg);
    main.appendChild(h('h1', {}, 'Users'));
    let offset = 0;
    const results = h('div', { id: 'user-results' });
    const pager = h('div', { class: 'pager' });
    const err = errorBox();
    const search = form({
        title: 'Search', submit: 'Search', inline: true,
        fields: [
            { name: 'host', label: 'Host', type: 'select',
              options: hostSelectOptions() },
            { name: 'q', label: 'Search users', type: 'search',
              placeholder: 'name or part of it' },
        ],
        onSubmit: async () => { offset = 0; await load(); },
    });
    const load = async () => {
        err.show(null);
        const q = search.inputs.q.value.trim();
        const host = search.inputs.host.value;
        let data;
        try {
            data = await api('GET', '/api/v1/users?host=' + enc(host) + '&q=' +
                             enc(q) + '&offset=' + offset + '&limit=' + PAGE);
        } catch (e) { err.show(e); return; }
        const rows = listOf(data, 'users', 'accounts');
        const total = data && typeof data.total === 'number' ? data.total : null;
        clear(results).appendChild(table(rows, [
            { key: null, label: 'JID', render: (_, u) => {
                const j = userJid(u);
                return h('a', { href: '#/users/' + enc(j) }, j);
            } },
            { key: null, label: 'State', render: (_, u) =>
                typeof u === 'object' && u.locked ? 'locked' : 'active' },
            { key: null, label: 'Online sessions', render: (_, u) =>
                typeof u === 'object' && u.online !== undefined
                    ? String(u.online) : '–' },
        ], { empty: 'No users match.', label: 'Users' }));
        clear(pager).append(
            h('button', { type: 'button', disabled: offset === 0,
                          onclick: () => { offset = Math.max(0, offset - PAGE); load(); } },
              'Previous'),
            h('span', {}, rows.length
                ? (offset + 1) + '–' + (offset + rows.length) +
                  (total !== null ? ' of ' + total : '') : ''),
            h('button', { type: 'button',
                          disabled: total !== null ? offset + rows.length >= total
                                                   : rows.length < PAGE,
                          onclick: () => { offset += PAGE; load(); } }, 'Next'));
    };
    const create = form({
        title: 'Create user', submit: 'Create user',
        fields: [
            { name: 'jid', label: 'New user JID', required: true,
              placeholder: 'user@' + (state.hosts[0] || 'example.org'),
              validate: validateJid },
            { name: 'password', label: 'New user password', type: 'password',
              required: true, autocomplete: 'new-password',
              validate: validatePassword },
        ],
        onSubmit: async (v, f) => {
            await api('POST', '/api/v1/users', { jid: v.jid, password: v.password });
            toast('User ' + v.jid + ' created.');
            f.reset();
            search.inputs.q.value = v.jid.split('@')[0];
            offset = 0;
            await load();
        },
    });
    const bulkOut = h('div', { id: 'bulk-results' });
    const bulk = form({
        title: 'Create many users', submit: 'Create users',
        fields: [{ name: 'lines',
                   label: 'One user per line, as CSV: jid,password[,name[,email]] ' +
                          '(quote a field holding a comma: "Lee, Ann")',
                   type: 'textarea', required: true, rows: 6,
                   placeholder: 'ann@' + (state.hosts[0] || 'example.org') +
                                ',a-long-password,"Lee, Ann",ann@mail.example' }],
        onSubmit: async (v, f) => {
            // The server reads the CSV (users-import-csv): the text goes as
            // typed, spaces at its ends included.
            const rows = await api('POST', '/api/v1/users/import-csv',
                                   { csv: f.inputs.lines.value });
            clear(bulkOut).appendChild(table(rows, [
                { key: 'line', label: 'Line' }, { key: 'jid', label: 'JID' },
                { key: 'result', label: 'Result' }], { label: 'Created users' }));
            toast(rows.filter(r => r.result === 'created').length + ' of ' + rows.length +
                  ' users created.');
            offset = 0;
            await load();
        },
    });
    const csvFile = h('input', { id: 'bulk-csv-file', type: 'file',
                                 accept: '.csv,text/csv,text/plain' });
    csvFile.addEventListener('change', () => {
        const file = csvFile.files[0];
        if (!file) return;
        const reader = new FileReader();
        reader.onload = () => { bulk.inputs.lines.value = reader.result; };
        reader.onerror = () => bulk.error.show(new Error('Cannot read ' + file.name + '.'));
        reader.readAsText(file);
    });
    bulk.querySelector('.fields').appendChild(h('div', { class: 'field' },
        h('label', { for: 'bulk-csv-file' }, 'CSV file'), csvFile));
    main.append(h('div', { class: 'two' },
        h('section', { class: 'card' }, search, err, results, pager),
        h('section', { class: 'card' }, create, bulk, bulkOut)));
    await load();
}

async function userDetail(main, jid) {
    const gen = state.gen;
    main.appendChild(h('p', {}, h('a', { href: '#/users' }, '← All users')));
    main.appendChild(h('h1', {}, jid));
    const base = '/api/v1/users/' + encPath(jid);
    const info = h('div', {}), sess = h('div', {}), roster = h('div', {}),
          vcard = h('div', {});
    const actErr = errorBox();
    let locked = false;
    const lockWhy = h('input', { id: 'lock-reason', type: 'text', placeholder: 'optional' });
    const lockWhyField = h('div', { class: 'field' },
        h('label', { for: 'lock-reason' }, 'Reason for locking'), lockWhy);
    const lockBtn = actionButton('Lock account', async () => {
        await api('POST', base + (locked ? '/unlock' : '/lock'),
                  !locked && lockWhy.value.trim() ? { reason: lockWhy.value.trim() } : {});
        toast(locked ? 'Account unlocked.' : 'Account locked.');
        lockWhy.value = '';
        await loadInfo();
    }, { error: actErr });
    const del = confirmButton('Delete user', async () => {
        try {
            await api('DELETE', base);
            toast('User ' + jid + ' deleted.');
            location.hash = '#/users';
        } catch (e) { actErr.show(e); }
    });
    const about = form({
        title: 'Name and email', submit: 'Save name and email',
        fields: [{ name: 'name', label: 'Name' },
                 { name: 'email', label: 'Email', type: 'email',
                   validate: v => /^[^@\s<>"]+@[^@\s<>"]+$/.test(v) ? null
                       : 'The email address looks like someone@example.org.' }],
        onSubmit: async (v) => {
            await api('PUT', base + '/info', { name: v.name, email: v.email });
            toast('Name and email saved.');
            await loadInfo();
        },
    });
    const pw = form({
        title: 'Change password', submit: 'Change password',
        fields: [{ name: 'password', label: 'New password', type: 'password',
                   required: true, autocomplete: 'new-password',
                   validate: validatePassword }],
        onSubmit: async (v, f) => {
            await api('PUT', base + '/password', { password: v.password });
            f.reset();
            toast('Password changed.');
        },
    });
    const loadInfo = async () => {
        try {
            const d = await api('GET', base);
            locked = !!(d && (d.locked || d.state === 'locked'));
            lockBtn.textContent = locked ? 'Unlock account' : 'Lock account';
            lockWhyField.hidden = locked;
            about.inputs.name.value = (d && d.name) || '';
            about.inputs.email.value = (d && d.email) || '';
            // The sessions have their own card.
            const shown = Object.assign({}, d);
            delete shown.sessions;
            clear(info).appendChild(dl(shown));
        } catch (e) { clear(info).appendChild(unavailable(e, 'Account info')); }
    };
    const loadSessions = async () => {
        try {
            const all = await api('GET', '/api/v1/sessions');
            const mine = listOf(all, 'sessions').filter(s =>
                String(s.jid).split('/')[0] === jid);
            clear(sess).appendChild(sessionTable(mine, loadSessions));
        } catch (e) { clear(sess).appendChild(unavailable(e, 'Sessions')); }
    };
    main.append(
        h('div', { class: 'two' },
            section('Account', info, lockWhyField,
                h('div', { class: 'actions' }, lockBtn, del), actErr, about, pw),
            section('Online sessions', sess)),
        h('div', { class: 'two' }, section('Roster', roster), section('vCard', vcard)));
    const rosterErr = errorBox();
    const loadRoster = () => api('GET', base + '/roster').then(r => clear(roster).append(
        table(listOf(r, 'items', 'roster', 'contacts'), [
            { key: 'jid', label: 'Contact' }, { key: 'name', label: 'Name' },
            { key: 'subscription', label: 'Subscription' },
            { key: 'groups', label: 'Groups', render: v => Array.isArray(v) ? v.join(', ') : (v || '') },
        ], { empty: 'Empty roster.', label: 'Roster', action: { label: 'Action',
            render: c => confirmButton('Remove', async () => {
                try {
                    await api('DELETE', base + '/roster', { contact: c.jid });
                    toast(c.jid + ' removed from the roster.');
                } catch (e) { rosterErr.show(e); }
                await loadRoster();
            }, { ariaLabel: 'Remove ' + c.jid }) } }),
        rosterErr,
        form({
            title: 'Add a contact', submit: 'Add contact',
            fields: [
                { name: 'contact', label: 'Contact JID', required: true, validate: validateJid },
                { name: 'name', label: 'Contact name' },
                { name: 'group', label: 'Groups (comma separated)' },
                { name: 'subscription', label: 'Subscription', type: 'select',
                  options: ['none', 'to', 'from', 'both'] },
            ],
            onSubmit: async (v) => {
                await api('POST', base + '/roster', { contact: v.contact, name: v.name,
                                                     group: v.group, subscription: v.subscription });
                toast(v.contact + ' added to the roster.');
                await loadRoster();
            },
        })),
        e => clear(roster).appendChild(unavailable(e, 'The roster')));
    await Promise.all([loadInfo(), loadSessions(), loadRoster(),
        api('GET', base + '/vcard').then(v => clear(vcard).appendChild(
            v && v.vcard ? h('pre', { class: 'code' }, v.vcard)
                         : h('p', { class: 'empty' }, 'No vCard.')),
            e => clear(vcard).appendChild(
                e.status === 404 ? h('p', { class: 'empty' }, 'No vCard.')
                                 : unavailable(e, 'The vCard')))]);
    if (gen === state.gen)
        every(5000, () => { if (!sess.querySelector('.armed')) loadSessions(); });
}

// ---- sessions ----

function sessionTable(rows, reload) {
    // On a cluster every node's sessions are listed; the others' carry
    // only what the registry shares (node, availability, priority).
    const node = rows.some(r => r.node) ? [{ key: 'node', label: 'Node' }] : [];
    return table(rows, [
        { key: 'jid', label: 'JID' }, ...node, { key: 'ip', label: 'IP' },
        { key: 'transport', label: 'Transport' }, { key: 'tls', label: 'TLS' }, { key: 'mechanism', label: 'SASL' },
        { key: 'client', label: 'Client', render: (v, r) => v ? v :
            actionButton('Ask', async () => {
                try {
                    const a = await api('POST', '/api/v1/client-version', { jid: r.jid });
                    toast(r.jid + ': ' + a.client);
                } catch (e) { toast(errorText(e), 'bad'); }
                await reload();
            }, { ariaLabel: 'Ask the software of ' + r.jid }) },
        { key: 'idle_ms', label: 'Idle', render: v => v === undefined ? '–' : fmtDuration(v / 1000) },
        { key: 'in', label: 'In' }, { key: 'out', label: 'Out' },
        { key: 'jid', label: 'Action', render: j => confirmButton('Kick', async () => {
            try {
                await api('DELETE', '/api/v1/sessions/' + encPath(j));
                toast('Session ' + j + ' kicked.');
            } catch (e) { toast(errorText(e), 'bad'); }
            await reload();
        }, { ariaLabel: 'Kick ' + j }) },
    ], { empty: 'No client sessions.', label: 'Sessions',
         rowAttrs: r => ({ 'data-jid': r.jid }) });
}

export async function sessions(main) {
    main.appendChild(h('h1', {}, 'Sessions'));
    const list = h('div', { id: 'session-list' });
    const err = errorBox();
    const auto = h('input', { type: 'checkbox', id: 'auto-refresh' });
    auto.checked = true;
    const count = h('span', { class: 'muted' });
    const load = async () => {
        try {
            const rows = listOf(await api('GET', '/api/v1/sessions'), 'sessions');
            err.show(null);
            count.textContent = rows.length + ' online';
            clear(list).appendChild(sessionTable(rows, load));
        } catch (e) { err.show(e); }
    };
    // Do not redraw under an armed Kick button.
    every(3000, () => {
        if (auto.checked && !list.querySelector('.armed')) load();
    });
    const ann = form({
        submit: 'Send announcement',
        fields: [
            { name: 'host', label: 'Announcement host', type: 'select',
              options: hostSelectOptions('All hosts') },
            { name: 'body', label: 'Announcement text', type: 'textarea',
              required: true, rows: 3 },
        ],
        onSubmit: async (v, f) => {
            const body = { body: v.body };
            if (v.host) body.host = v.host;
            await api('POST', '/api/v1/announce', body);
            f.reset();
            toast('Announcement sent.');
        },
    });
    main.append(section('Client sessions',
        h('div', { class: 'toolbar' },
            actionButton('Refresh', load),
            h('label', { class: 'check', for: 'auto-refresh' }, auto, ' Auto-refresh'),
            count),
        err, list), section('Announcement to all online users', ann));
    await load();
}

// ---- modules ----

export async function modules(main) {
    main.appendChild(h('h1', {}, 'Modules'));
    const err = errorBox();
    const loaded = h('div', { id: 'modules-loaded' });
    const avail = h('div', { id: 'modules-available' });
    const opts = h('div', { id: 'module-options' });
    const hostSel = h('select', { id: 'enable-host' },
        hostSelectOptions('(global)').map(o => h('option', { value: o.value }, o.label)));
    if (state.hosts.length) hostSel.value = state.hosts[0];
    hostSel.addEventListener('change', () => load());

    const act = (name, verb, host) => async () => {
        const body = host ? { host } : {};
        await api('POST', '/api/v1/modules/' + enc(name) + '/' + verb, body);
        toast('Module ' + name + ': ' + verb + ' done.');
        await load();
    };
    const load = async () => {
        let mods, plugins;
        try {
            [mods, plugins] = await Promise.all([
                api('GET', '/api/v1/modules'), api('GET', '/api/v1/plugins')]);
            err.show(null);
        } catch (e) { err.show(e); return; }
        mods = listOf(mods, 'modules');
        plugins = listOf(plugins, 'plugins');
        clear(loaded).appendChild(table(mods, [
            { key: 'name', label: 'Name' }, { key: 'version', label: 'Version' },
            { key: 'abi', label: 'ABI' }, { key: 'host', label: 'Host',
              render: v => v || '(global)' },
            { key: 'state', label: 'State', render: (v, m) => h('span', {},
                h('span', { class: 'badge ' + v }, v),
                m.error ? h('span', { class: 'error-text' }, ' ' + m.error) : null) },
            { key: 'description', label: 'Description' },
            { key: 'name', label: 'Actions', render: (n, m) => h('span', { class: 'btns' },
                actionButton('Disable', act(n, 'disable', m.host),
                             { ariaLabel: 'Disable ' + n + (m.host ? ' on ' + m.host : '') }),
                actionButton('Reload', act(n, 'reload', m.host),
                             { ariaLabel: 'Reload ' + n + (m.host ? ' on ' + m.host : '') }),
                actionButton('Options', () => showOptions(n, m.host),
                             { ariaLabel: 'Options of ' + n + (m.host ? ' on ' + m.host : '') })) },
        ], { label: 'Loaded modules', empty: 'No modules loaded.',
             rowAttrs: m => ({ 'data-module': m.name }) }));
        // Plugins not loaded where an enable would put them: on the chosen
        // host (a global one counts everywhere), or anywhere for (global).
        const where = hostSel.value;
        const loadedAt = p => Array.isArray(p.loaded_on) ? p.loaded_on
            : mods.filter(m => m.name === p.name).map(m => m.host || 'global');
        const rest = plugins.filter(p => {
            const at = loadedAt(p);
            return where ? !at.includes(where) && !at.includes('global')
                         : at.length === 0;
        });
        clear(avail).appendChild(table(rest, [
            { key: 'name', label: 'Name' }, { key: 'version', label: 'Version' },
            { key: 'abi', label: 'ABI' }, { key: 'state', label: 'State',
              render: v => h('span', { class: 'badge ' + v }, v) },
            { key: 'description', label: 'Description' },
            { key: 'enabled', label: 'Enabled on' },
            { key: 'name', label: 'Actions', render: n => actionButton('Enable',
                () => act(n, 'enable', hostSel.value)(),
                { ariaLabel: 'Enable ' + n }) },
        ], { label: 'Available plugins', empty: 'Every installed plugin is loaded.',
             rowAttrs: p => ({ 'data-plugin': p.name }) }));
    };

    const showOptions = async (name, host) => {
        clear(opts);
        let data;
        try {
            data = await api('GET', '/api/v1/modules/' + enc(name) + '/options' +
                             (host ? '?host=' + enc(host) : ''));
        } catch (e) { opts.appendChild(unavailable(e, 'Options of ' + name)); return; }
        const raw = data && data.options !== undefined ? data.options : data;
        // Options come as {name: value} or as [{name, value, type, ...}] /
        // {name: {value, type, default, description}}.
        let list = Array.isArray(raw) ? raw : Object.entries(raw || {}).map(([k, v]) =>
            v !== null && typeof v === 'object' && !Array.isArray(v)
                ? Object.assign({ name: k }, v) : { name: k, value: v });
        if (!list.length) {
            opts.appendChild(section('Options of ' + name,
                h('p', { class: 'empty' }, 'This module has no options.')));
            return;
        }
        const typeOf = o => o.type || (typeof o.value === 'number' ? 'int'
            : typeof o.value === 'boolean' ? 'bool' : 'string');
        const f = form({
            title: 'Options of ' + name + (host ? ' on ' + host : ''),
            submit: 'Save options',
            fields: list.map(o => {
                const t = typeOf(o);
                const v = o.value !== undefined ? o.value : o.default;
                return {
                    name: o.name, label: o.name,
                    type: /bool/.test(t) ? 'checkbox' : 'text',
                    value: /bool/.test(t) ? v === true || v === 'true'
                                          : v === undefined || v === null ? '' : String(v),
                    help: [o.help || o.description,
                           /^(path|guarded)$/.test(t)
                           ? 'only the config file on disk may change it' : null,
                           o.min !== undefined && o.max !== undefined
                           ? 'range ' + o.min + '–' + o.max : null,
                           o.default !== undefined
                           ? 'default ' + fmtValue(o.default) : null]
                           .filter(Boolean).join(' — '),
                    validate: /int|num|size|dur/.test(t)
                        ? x => /^-?\d+(\.\d+)?[a-zA-Z]*$/.test(x) ? null
                               : o.name + ' must be a number.'
                        : null,
                };
            }),
            onSubmit: async (v) => {
                const options = {};
                for (const o of list) {
                    const t = typeOf(o);
                    if (/^(path|guarded)$/.test(t)) continue;
                    let x = v[o.name];
                    if (/bool/.test(t)) x = !!x;
                    else if (/^int|^num/.test(t) && /^-?\d+$/.test(x)) x = Number(x);
                    options[o.name] = x;
                }
                const body = { options };
                if (host) body.host = host;
                await api('PUT', '/api/v1/modules/' + enc(name) + '/options', body);
                toast('Options of ' + name + ' saved.');
            },
        });
        for (const o of list)
            if (/^(path|guarded)$/.test(typeOf(o))) f.inputs[o.name].readOnly = true;
        opts.appendChild(h('section', { class: 'card' }, f));
        opts.scrollIntoView({ block: 'nearest' });
    };

    main.append(err,
        section('Loaded modules', loaded), opts,
        section('Installed plugins not loaded',
            h('div', { class: 'toolbar' },
                h('label', { for: 'enable-host' }, 'Enable on host'), hostSel),
            avail));
    await load();
}
