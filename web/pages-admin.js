// Pages: rooms, pubsub nodes, uploads, archives, settings, certificates, logs, audit, API keys.
import { state, api, h, clear, enc, form, table, dl, notice, errorBox, toast,
         confirmButton, actionButton, section, onLeave, fmtValue,
         listOf, hostSelectOptions, unavailable, encPath, fmtTime,
         errorText } from './util.js';
import { diffLines, hunks } from './diff.js';

// A room or node: scalar fields as a list, lists (occupants,
// subscriptions, affiliations) as tables; the config has its own form.
function details(d) {
    if (!d || typeof d !== 'object') return dl(d);
    const scalars = {}, parts = [];
    for (const [k, v] of Object.entries(d)) {
        if (k === 'config' || k === 'configuration') continue;
        if (Array.isArray(v) && v.some(x => x && typeof x === 'object'))
            parts.push(h('h3', {}, k), table(v, null, { label: k }));
        else if (v && typeof v === 'object' && !Array.isArray(v))
            parts.push(h('h3', {}, k), dl(v));
        else scalars[k] = v;
    }
    return h('div', {}, dl(scalars), parts);
}

// Data form variables read better without their namespace prefix.
const shortName = k => k.replace(/^(muc#roomconfig_|muc#|pubsub#)/, '');

// A config object ({key: value}) as an editable form; values keep their
// JSON type on save (numbers stay numbers, booleans are checkboxes).
function configForm(title, cfg, onSave) {
    const entries = Object.entries(cfg || {});
    if (!entries.length)
        return h('p', { class: 'empty' }, 'No configurable options.');
    return form({
        title, submit: 'Save configuration',
        fields: entries.map(([k, v]) => ({
            name: k, label: shortName(k),
            type: typeof v === 'boolean' ? 'checkbox' : 'text',
            value: typeof v === 'boolean' ? v
                 : typeof v === 'object' && v !== null ? JSON.stringify(v)
                 : v === null ? '' : String(v),
            validate: typeof v === 'number'
                ? x => isFinite(Number(x)) ? null : k + ' must be a number.' : null,
        })),
        onSubmit: async (vals) => {
            const out = {};
            for (const [k, v] of entries) {
                let x = vals[k];
                if (typeof v === 'number') x = Number(x);
                else if (typeof v === 'object' && v !== null) {
                    try { x = JSON.parse(x); }
                    catch (e) { throw new Error(k + ' must be JSON.'); }
                }
                out[k] = x;
            }
            await onSave(out);
        },
    });
}

// The room's own data form (XEP-0045 10.2, as muc-room gives it): labels,
// checkboxes, selects and choices instead of raw field names.
function dataForm(title, fields, onSave) {
    const spec = [];
    for (const f of fields) {
        const v = f.values || [];
        if (f.type === 'boolean')
            spec.push({ name: f.var, label: f.label || shortName(f.var), type: 'checkbox',
                        value: v[0] === '1' || v[0] === 'true' });
        else if (f.type === 'list-single')
            spec.push({ name: f.var, label: f.label || shortName(f.var), type: 'select',
                        options: f.options, value: v[0] });
        else if (f.type === 'list-multi')
            for (const o of f.options || [])
                spec.push({ name: f.var + '\u0000' + o.value, type: 'checkbox',
                            label: (f.label || shortName(f.var)) + ': ' + o.label,
                            value: v.includes(o.value) });
        else if (f.type !== 'hidden' && f.type !== 'fixed')
            spec.push({ name: f.var, label: f.label || shortName(f.var),
                        type: f.type === 'text-private' ? 'password' : 'text', value: v[0] || '' });
    }
    return form({
        title, submit: 'Save configuration', fields: spec,
        onSubmit: async (vals) => {
            const out = {};
            for (const f of fields) {
                if (f.type === 'list-multi')
                    out[f.var] = (f.options || []).filter(o => vals[f.var + '\u0000' + o.value])
                                                  .map(o => o.value);
                else if (f.var in vals) out[f.var] = vals[f.var];
            }
            await onSave(out);
        },
    });
}

const AFFILIATIONS = ['owner', 'admin', 'member', 'outcast', 'none'];

export async function rooms(main, arg) {
    main.appendChild(h('h1', {}, 'Group chat rooms'));
    const list = h('div', {}), detail = h('div', {});
    const create = form({
        title: 'Create a room', submit: 'Create room',
        fields: [
            { name: 'room', label: 'Room address', required: true,
              placeholder: 'team@conference.' + (state.hosts[0] || 'example.org'),
              validate: v => /^[^@\/\s]+@[^@\/\s]+$/.test(v) ? null
                  : 'The room address looks like name@conference.host.' },
            { name: 'owner', label: 'Owner', required: true, value: (state.session && state.session.jid) || '',
              validate: v => /^[^@\/\s]+@[^@\/\s]+$/.test(v) ? null
                  : 'The owner is a bare JID, user@host.' },
            { name: 'name', label: 'Name' },
            { name: 'members', label: 'Members only', type: 'checkbox' },
            { name: 'public', label: 'Listed in the directory', type: 'checkbox', value: true },
        ],
        onSubmit: async (v, f) => {
            await api('POST', '/api/v1/rooms', { room: v.room, owner: v.owner, config: {
                'muc#roomconfig_roomname': v.name,
                'muc#roomconfig_membersonly': v.members,
                'muc#roomconfig_publicroom': v.public } });
            toast('Room ' + v.room + ' created.');
            f.reset();
            location.hash = '#/rooms/' + enc(v.room);
        },
    });
    main.append(section('Rooms', list), h('section', { class: 'card' }, create), detail);
    const load = async () => {
        try {
            const rows = listOf(await api('GET', '/api/v1/rooms'), 'rooms');
            clear(list).appendChild(table(rows.map(r =>
                typeof r === 'string' ? { jid: r } : r), null, {
                    empty: 'No rooms.', label: 'Rooms',
                    action: { label: 'Action', render: r => h('a', {
                        href: '#/rooms/' + enc(r.jid), 'aria-label': 'View ' + r.jid },
                        'View') } }));
        } catch (e) { clear(list).appendChild(unavailable(e, 'Group chat')); }
    };
    await load();
    if (arg) await showRoom(detail, arg);
}

function roomPeople(d, base, again) {
    const err = errorBox();
    const why = h('input', { id: 'occupant-reason', type: 'text', placeholder: 'optional' });
    const occupants = table(d.occupants || [], [
        { key: 'nick', label: 'Nickname' }, { key: 'jid', label: 'Real JID' },
        { key: 'role', label: 'Role' }, { key: 'affiliation', label: 'Affiliation' },
    ], { empty: 'Nobody is in the room.', label: 'Occupants', action: { label: 'Action',
        render: o => h('span', { class: 'actions' },
            actionButton('Kick', async () => {
                await api('POST', base + '/kick', { nick: o.nick, reason: why.value || undefined });
                toast(o.nick + ' kicked.');
                await again();
            }, { error: err, ariaLabel: 'Kick ' + o.nick }),
            actionButton('Ban', async () => {
                await api('POST', base + '/affiliations', { jid: o.jid.split('/')[0],
                    affiliation: 'outcast', reason: why.value || undefined });
                toast(o.nick + ' banned.');
                await again();
            }, { error: err, ariaLabel: 'Ban ' + o.nick })) } });
    const rows = [];
    for (const a of AFFILIATIONS)
        for (const jid of (d.affiliations || {})[a] || [])
            rows.push({ jid, affiliation: a, reason: (d.reasons || {})[jid] || '' });
    const affs = table(rows, [
        { key: 'jid', label: 'JID' }, { key: 'affiliation', label: 'Affiliation' },
        { key: 'reason', label: 'Reason' },
    ], { empty: 'No affiliations.', label: 'Affiliations', action: { label: 'Action',
        render: r => actionButton('Remove', async () => {
            await api('POST', base + '/affiliations', { jid: r.jid, affiliation: 'none' });
            toast(r.jid + ' is no longer ' + r.affiliation + '.');
            await again();
        }, { error: err, ariaLabel: 'Remove ' + r.jid }) } });
    const set = form({
        title: 'Set an affiliation', submit: 'Set affiliation', inline: true,
        fields: [
            { name: 'jid', label: 'JID', required: true, placeholder: 'user@host or a domain' },
            { name: 'affiliation', label: 'Affiliation', type: 'select', options: AFFILIATIONS,
              value: 'member' },
            { name: 'reason', label: 'Reason' },
        ],
        onSubmit: async (v) => {
            await api('POST', base + '/affiliations', { jid: v.jid, affiliation: v.affiliation,
                                                       reason: v.reason || undefined });
            toast(v.jid + ' is now ' + v.affiliation + '.');
            await again();
        },
    });
    return h('div', {}, h('h3', {}, 'Occupants'),
        h('div', { class: 'field' }, h('label', { for: 'occupant-reason' },
            'Reason for a kick or ban'), why), err, occupants,
        h('h3', {}, 'Affiliations'), affs, set);
}

async function showRoom(detail, arg) {
    const base = '/api/v1/rooms/' + encPath(arg);
    clear(detail);
    try {
        const d = await api('GET', base);
        const cfg = d && (d.config || d.configuration);
        const err = errorBox();
        const reason = h('input', { id: 'destroy-reason', type: 'text' });
        const save = async (c) => {
            await api('PUT', base + '/config', { config: c });
            toast('Room configured.');
            await showRoom(detail, arg);
        };
        const shown = Object.assign({}, d);
        for (const k of ['form', 'occupants', 'affiliations', 'reasons']) delete shown[k];
        detail.appendChild(section('Room ' + arg, details(shown),
            roomPeople(d, base, () => showRoom(detail, arg)),
            d.form ? dataForm('Configure ' + arg, d.form, save)
                : cfg ? configForm('Configure ' + arg, cfg, save) : null,
            h('div', { class: 'danger-zone' },
                h('div', { class: 'field' }, h('label', { for: 'destroy-reason' },
                    'Reason for destroying'), reason),
                err,
                h('div', { class: 'actions' }, confirmButton('Destroy room', async () => {
                    try {
                        await api('DELETE', base, reason.value ? { reason: reason.value } : {});
                        toast('Room destroyed.');
                        location.hash = '#/rooms';
                    } catch (e) { err.show(e); }
                })))));
    } catch (e) { detail.appendChild(unavailable(e, 'Room ' + arg)); }
}

export async function nodes(main, arg) {
    main.appendChild(h('h1', {}, 'Pubsub nodes'));
    const host = h('select', { id: 'nodes-host' },
        hostSelectOptions().map(o => h('option', { value: o.value }, o.label)));
    // PEP nodes (avatars, bookmarks, OMEMO keys) belong to each account.
    const service = h('input', { id: 'nodes-service', type: 'text',
                                 placeholder: 'pubsub service, or user@host for PEP' });
    const list = h('div', {}), detail = h('div', {});
    const hostOf = () => {
        const q = [];
        if (host.value) q.push('host=' + enc(host.value));
        if (service.value.trim()) q.push('service=' + enc(service.value.trim()));
        return q.length ? '?' + q.join('&') : '';
    };
    const load = async () => {
        clear(detail);
        try {
            const rows = listOf(await api('GET', '/api/v1/nodes' + hostOf()), 'nodes');
            clear(list).appendChild(table(rows.map(r =>
                typeof r === 'string' ? { node: r } : r), null,
                { empty: service.value.trim() ? 'No nodes on this service.'
                      : 'No nodes on the pubsub service. PEP nodes (avatars, '
                        + 'bookmarks, OMEMO keys) belong to each account: '
                        + 'enter its JID as the service.',
                  label: 'Nodes',
                  action: { label: 'Action', render: r => actionButton('View',
                      () => view(r.node), { ariaLabel: 'View ' + r.node }) } }));
        } catch (e) { clear(list).appendChild(unavailable(e, 'Publish-subscribe')); }
    };
    const view = async (node) => {
        clear(detail);
        const base = '/api/v1/nodes/' + encPath(node);
        try {
            const d = await api('GET', base + hostOf());
            const cfg = d && (d.config || d.configuration);
            const err = errorBox();
            detail.appendChild(section('Node ' + node, details(d),
                cfg ? configForm('Configure ' + node, cfg, async (c) => {
                    await api('PUT', base + '/config' + hostOf(), { config: c });
                    toast('Node configured.');
                    await view(node);
                }) : null,
                h('div', { class: 'danger-zone' }, err,
                    confirmButton('Delete node', async () => {
                        try {
                            await api('DELETE', base + hostOf());
                            toast('Node deleted.');
                            await load();
                        } catch (e) { err.show(e); }
                    }))));
        } catch (e) { detail.appendChild(unavailable(e, 'Node ' + node)); }
    };
    host.addEventListener('change', load);
    service.addEventListener('change', load);
    main.append(section('Nodes', h('div', { class: 'toolbar' },
        h('label', { for: 'nodes-host' }, 'Host'), host,
        h('label', { for: 'nodes-service' }, 'Service'), service), list), detail);
    await load();
    if (arg) await view(arg);
}

// ---- settings: the config file, edited as text, diffed before saving ----

const fmtBytes = n => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + ' GiB'
    : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB'
    : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';
const quota = n => n ? fmtBytes(n) : 'no limit';

export async function uploads(main) {
    main.appendChild(h('h1', {}, 'Uploaded files'));
    const host = h('select', { id: 'uploads-host' },
        hostSelectOptions().map(o => h('option', { value: o.value }, o.label)));
    const user = h('input', { id: 'uploads-user', type: 'text',
                              placeholder: 'user@host: only this account' });
    const usage = h('div', {}), list = h('div', {});
    const query = (withUser) => {
        const q = [];
        if (host.value) q.push('host=' + enc(host.value));
        if (withUser && user.value.trim()) q.push('user=' + enc(user.value.trim()));
        return q.length ? '?' + q.join('&') : '';
    };
    const load = async () => {
        try {
            const u = await api('GET', '/api/v1/uploads/usage' + query(false));
            const per = Object.entries(u.users || {}).map(([jid, x]) =>
                ({ account: jid, files: x.files, kept: fmtBytes(x.bytes) }));
            clear(usage).append(dl({
                service: u.service, files: u.files, kept: fmtBytes(u.total),
                'largest file': fmtBytes(u.max_file_size),
                'quota per account': quota(u.quota_per_user),
                'quota of the host': quota(u.quota_total) }),
                table(per, null, { empty: 'Nobody keeps files.', label: 'Usage' }));
        } catch (e) { clear(usage).appendChild(unavailable(e, 'File upload')); return; }
        try {
            const rows = listOf(await api('GET', '/api/v1/uploads' + query(true)));
            clear(list).appendChild(table(rows.map(r => ({
                name: r.url ? h('a', { href: r.url, rel: 'noopener noreferrer',
                                       target: '_blank' }, r.name) : r.name,
                owner: r.owner, size: fmtBytes(r.size), type: r.type || '–',
                state: r.state, uploaded: fmtTime(r.stored || r.created), id: r.id })),
                [{ key: 'name', label: 'File', render: v => v },
                 { key: 'owner', label: 'Owner' }, { key: 'size', label: 'Size' },
                 { key: 'type', label: 'Type' }, { key: 'state', label: 'State' },
                 { key: 'uploaded', label: 'Since' }],
                { empty: 'No files.', label: 'Files',
                  action: { label: 'Action', render: r => confirmButton('Delete',
                      async () => {
                          try {
                              await api('DELETE', '/api/v1/uploads/' + enc(r.id)
                                        + query(false));
                              toast('File deleted.');
                          } catch (e) { toast(errorText(e), 'bad'); }
                          await load();
                      }, { ariaLabel: 'Delete ' + r.id }) } }));
        } catch (e) { clear(list).appendChild(unavailable(e, 'File upload')); }
    };
    host.addEventListener('change', load);
    user.addEventListener('change', load);
    main.append(h('div', { class: 'field' }, h('label', { for: 'uploads-host' }, 'Host'), host),
        section('Space', usage),
        section('Files', h('div', { class: 'field' },
            h('label', { for: 'uploads-user' }, 'Account'), user), list));
    await load();
}

// What a person would read of an archived message: its body, as text.
function archivedBody(xml) {
    const doc = new DOMParser().parseFromString(xml || '', 'application/xml');
    const body = doc.getElementsByTagName('body')[0];
    return body ? body.textContent : '(no text)';
}

export async function archives(main, arg) {
    main.appendChild(h('h1', {}, 'Message archives'));
    const list = h('div', {});
    let who = { account: arg || '', with: '' }, before = null, rows = [];
    const load = async (more) => {
        if (!who.account) return;
        if (!more) { before = null; rows = []; }
        const q = ['max=50'];
        if (who.with) q.push('with=' + enc(who.with));
        if (before) q.push('before=' + enc(before));
        try {
            const d = await api('GET', '/api/v1/archives/' + encPath(who.account)
                                + '?' + q.join('&'));
            const page = listOf(d, 'messages');
            rows = rows.concat(page);
            if (page.length) before = page[page.length - 1].id;
            clear(list).append(table(rows.map(r => ({
                time: r.time, with: r.with || '', text: archivedBody(r.xml) })),
                [{ key: 'time', label: 'Time' }, { key: 'with', label: 'With' },
                 { key: 'text', label: 'Message' }],
                { empty: 'No archived messages.', label: 'Archive' }));
            if (d && d.complete === false)
                list.append(actionButton('Older messages', () => load(true)));
        } catch (e) { clear(list).appendChild(unavailable(e, 'Message archives')); }
    };
    main.append(section('Which archive', form({
        title: 'Show an archive', submit: 'Show', inline: true,
        fields: [{ name: 'account', label: 'Account', placeholder: 'user@host',
                   value: who.account, required: true },
                 { name: 'with', label: 'Contact', placeholder: 'optional' }],
        onSubmit: async (vals) => {
            who = { account: (vals.account || '').trim(),
                    with: (vals.with || '').trim() };
            await load(false);
        } })),
        section('Messages', list));
    if (arg) await load(false);
}


function renderDiff(d) {
    const hs = hunks(d);
    if (!d.some(x => x.op !== ' '))
        return h('p', { class: 'empty', id: 'config-diff' }, 'No changes.');
    return h('pre', { class: 'diff', id: 'config-diff', 'aria-label': 'Changes' },
        hs.map(x => h('span', { class: x.op === '+' ? 'add' : x.op === '-' ? 'del'
                                     : x.op === '…' ? 'gap' : 'same' },
            (x.op === '…' ? '…' : x.op + ' ' + x.text) + '\n')));
}

// ---- typed settings of <limits> and <s2s>, from the server's descriptors ----

const SETTING_TITLES = { limits: 'Limits', s2s: 'Server-to-server links' };
const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

function durationSeconds(v) {
    const m = /^(\d+)([smhd]?)$/.exec(String(v).trim());
    return m ? Number(m[1]) * DURATION_UNITS[m[2] || 's'] : NaN;
}

function settingField(s) {
    const label = s.attr + (s.kind === 'duration' ? ' (seconds, or 10m, 2h, 1d)' : '');
    const help = s.help + '.' + (s.default !== null && s.default !== undefined
        ? ' Default: ' + (s.kind === 'bool' ? (s.default ? 'on' : 'off') : s.default) + '.' : '')
        + (s.read_only ? ' It names a file: only the file on disk may change it.' : '');
    const f = { name: s.element + '/' + s.attr, label, help,
                type: s.kind === 'bool' ? 'checkbox' : 'text',
                value: s.kind === 'bool' ? !!s.value : s.value === null ? '' : String(s.value) };
    if (s.kind === 'int' || s.kind === 'duration')
        f.validate = v => {
            const n = s.kind === 'int' ? (/^\d+$/.test(v) ? Number(v) : NaN) : durationSeconds(v);
            if (isNaN(n)) return s.attr + ' must be ' + (s.kind === 'int' ? 'a whole number.'
                                                                       : 'a duration such as 90, 10m or 2h.');
            if (n < s.min || n > s.max) return s.attr + ' must be between ' + s.min + ' and ' + s.max + '.';
            return null;
        };
    return f;
}

// A server message "listen[0]/port: ..." next to the field it names.
function showServerError(f, e) {
    const m = /^(?:line \d+: )?[a-z-]+(?:\[[^\]]*\])?\/([a-z-]+)[:\s]/.exec(e.message || '');
    if (m) f.fieldError(m[1], errorText(e));
    throw e;
}

// One changed set of values: its diff (secrets masked by the server) and
// whether the file would load, then "Save and apply".
async function reviewChange(review, f, values, what, onSaved) {
    const dry = await api('PUT', '/api/v1/settings', { values, dry_run: true })
        .catch(e => showServerError(f, e));
    clear(review).append(h('h4', {}, 'What changes in the file'),
        renderDiff(diffLines(dry.before || '', dry.text || '')));
    if (dry.ok === false)
        review.append(notice('The new file would not load: ' +
            (dry.line ? 'line ' + dry.line + ': ' : '') + dry.message, 'warn'));
    review.append(h('div', { class: 'actions' }, actionButton('Save and apply', async () => {
        await api('PUT', '/api/v1/settings', { values }).catch(e => showServerError(f, e));
        toast(what + ' saved and applied.');
        await onSaved();
    }, { error: f.error })));
}

function instanceField(fd, inst) {
    const v = inst ? inst.values[fd.attr] : null;
    const help = fd.help + '.' + (fd.read_only ? ' It names a file: only the file on disk may change it.' : '')
        + (fd.write_only ? ' Never shown' + (inst ? '; leave empty to keep it.' : '.') : '')
        + (fd.kind === 'bool' && fd.default !== null ? ' Default: ' + (fd.default ? 'on' : 'off') + '.' : '');
    const f = { name: fd.attr, label: fd.attr, help, required: fd.required && !(inst && fd.write_only) };
    if (fd.kind === 'bool') {
        f.type = 'checkbox';
        f.value = v === null || v === undefined ? !!fd.default : !!v;
    } else if (fd.kind === 'choice') {
        f.type = 'select';
        f.options = (v ? [] : ['']).concat(fd.choices);
        f.value = v || '';
    } else if (fd.kind === 'secret') {
        f.type = 'password';
        f.autocomplete = 'new-password';
        f.placeholder = v ? 'set (empty keeps it)' : '';
    } else {
        f.value = v === null || v === undefined ? '' : String(v);
    }
    if (fd.kind === 'int')
        f.validate = x => !/^\d+$/.test(x) ? fd.attr + ' must be a whole number.'
            : Number(x) < fd.min || Number(x) > fd.max
                ? fd.attr + ' must be between ' + fd.min + ' and ' + fd.max + '.' : null;
    if (fd.kind === 'address')
        f.validate = x => /^(\d{1,3}\.){3}\d{1,3}$/.test(x) || (x.includes(':') && /^[0-9a-fA-F:.]+$/.test(x))
            ? null : fd.attr + ' must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1.';
    if (fd.kind === 'domain')
        f.validate = x => /^[^\s@/]+$/.test(x) ? null : fd.attr + ' must be a domain such as irc.example.org.';
    return f;
}

function instanceTitle(g, inst) {
    if (!inst) return 'Add ' + (g.element === 'listen' ? 'a listener' : 'a ' + g.element);
    const v = inst.values;
    if (g.element === 'listen')
        return v.type + ' on ' + (v.address || 'its default address') + ':' + (v.port || 'its default port');
    if (g.element === 'tls') return inst.id === '' ? 'Default certificate' : 'Certificate of ' + inst.id;
    return inst.id;
}

// One form per instance of a repeated element, and one to add another.
function groupSection(g, onSaved) {
    const forms = [];
    const one = (inst) => {
        const review = h('div', { class: 'settings-review' });
        const title = instanceTitle(g, inst);
        const fields = g.fields.map(fd => instanceField(fd, inst));
        const ref = inst ? g.element + '[' + inst.id + ']' : null;
        let f;
        const removeBtn = inst && !g.fixed ? confirmButton('Remove', async () => {
            try { await reviewChange(review, f, { [ref]: null }, title + ' removal', onSaved); }
            catch (e) { f.error.show(e); }
        }, { ariaLabel: 'Remove ' + title }) : null;
        f = form({
            title, submit: inst ? 'Review changes' : 'Review new ' + g.element, extra: removeBtn,
            fields,
            onSubmit: async (vals) => {
                const changed = {};
                for (const fd of g.fields) {
                    if (fd.read_only) continue;
                    const v = vals[fd.attr];
                    if (fd.kind === 'secret') { if (v !== '') changed[fd.attr] = v; continue; }
                    const init = fields.find(x => x.name === fd.attr).value;
                    const was = fd.kind === 'bool' ? !!init : init === undefined ? '' : init;
                    if (v !== was) changed[fd.attr] = v === '' ? null : v;
                }
                if (!Object.keys(changed).length) throw new Error('Nothing changed.');
                let key = ref;
                if (!key) {
                    const id = g.key ? (changed[g.key] || '') : 'new';
                    if (!id) throw new Error(g.key + ' is required.');
                    key = g.element + '[' + id + ']';
                }
                await reviewChange(review, f, { [key]: changed }, title, onSaved);
            },
        });
        for (const fd of g.fields) {
            if (!fd.read_only) continue;
            f.inputs[fd.attr].readOnly = true;
            if (fd.kind === 'bool' || fd.kind === 'choice') f.inputs[fd.attr].disabled = true;
        }
        if (g.fixed) f.querySelector('button[type=submit]').hidden = true;
        forms.push(h('div', { class: 'instance' }, f, review));
    };
    for (const inst of g.instances) one(inst);
    if (!g.fixed) one(null);
    return section(g.title, g.fixed ? h('p', { class: 'muted' },
        'These name files: change them in the configuration file, or install certificates on the Certificates page.') : null,
        g.instances.length ? null : h('p', { class: 'empty' }, 'None configured.'), forms);
}

async function typedSettings(box, onSaved) {
    const all = listOf(await api('GET', '/api/v1/settings'), 'settings');
    const list = all.filter(s => s.attr), groupsList = all.filter(s => s.fields);
    const elements = [...new Set(list.map(s => s.element))];
    clear(box);
    for (const el of elements) {
        const mine = list.filter(s => s.element === el);
        const review = h('div', { class: 'settings-review' });
        const f = form({
            title: SETTING_TITLES[el] || el, submit: 'Review changes',
            fields: mine.map(settingField),
            onSubmit: async (vals) => {
                const changed = {};
                for (const s of mine) {
                    if (s.read_only) continue;
                    const k = s.element + '/' + s.attr, v = vals[k];
                    const was = s.kind === 'bool' ? !!s.value : s.value === null ? '' : String(s.value);
                    if (v !== was) changed[k] = v;
                }
                if (!Object.keys(changed).length) throw new Error('Nothing changed.');
                await reviewChange(review, f, changed, SETTING_TITLES[el] || el, onSaved);
            },
        });
        for (const s of mine)
            if (s.read_only) f.inputs[s.element + '/' + s.attr].readOnly = true;
        box.append(section(SETTING_TITLES[el] || el, f, review));
    }
    for (const g of groupsList) box.append(groupSection(g, onSaved));
}

export async function settings(main) {
    main.appendChild(h('h1', {}, 'Server settings'));
    const typed = h('div', { id: 'typed-settings' });
    const summary = h('div', {}), admins = h('div', {});
    const ta = h('textarea', { id: 'config-text', rows: 22, spellcheck: 'false',
                               class: 'code' });
    const diffBox = h('div', {});
    const err = errorBox();
    const check = h('div', { role: 'status' });
    let original = '', path = '', shownFor = null;
    const save = h('button', { type: 'button', class: 'primary', disabled: true },
                   'Save and reload');
    const loadConfig = async () => {
        try {
            const c = await api('GET', '/api/v1/config');
            original = typeof c === 'string' ? c : (c.text ?? c.config ?? '');
            path = (c && c.path) || '';
            ta.value = original;
            shownFor = null;
            save.disabled = true;
            clear(diffBox);
        } catch (e) { err.show(e); }
    };
    const showDiff = () => {
        clear(diffBox).appendChild(renderDiff(diffLines(original, ta.value)));
        shownFor = ta.value;
        save.disabled = ta.value === original;
    };
    ta.addEventListener('input', () => {
        save.disabled = true;
        shownFor = null;
    });
    const checkBtn = actionButton('Check', async () => {
        err.show(null);
        clear(check);
        const r = await api('POST', '/api/v1/config/check', { text: ta.value });
        const problems = listOf(r, 'errors', 'problems', 'warnings');
        check.appendChild(r && (r.ok === false || problems.length)
            ? notice('Problems: ' + problems.map(p => p && p.message
                ? (p.line ? 'line ' + p.line + ': ' : '') + p.message
                : fmtValue(p)).join('; '), 'warn')
            : notice('The configuration is valid.', 'ok'));
    }, { error: err });
    save.addEventListener('click', async () => {
        if (shownFor !== ta.value) { showDiff(); return; }
        err.show(null);
        save.disabled = true;
        try {
            const r = await api('PUT', '/api/v1/config', { text: ta.value });
            toast('Configuration saved and reloaded.');
            clear(check).appendChild(notice('Saved' + (path ? ' to ' + path : '') +
                ' and applied.' + (r && r.result ? ' ' + fmtValue(r.result) : ''), 'ok'));
            await loadConfig();
        } catch (e) { err.show(e); save.disabled = false; }
    });
    const reloadTyped = () => typedSettings(typed, async () => {
        await loadConfig();
        await reloadTyped();
    }).catch(e => clear(typed).appendChild(unavailable(e, 'Settings')));
    main.append(h('div', { class: 'two' },
        section('Hosts, listeners and limits', summary),
        section('Administrators', admins)), typed,
        section('Configuration file',
            h('div', { class: 'field wide' },
                h('label', { for: 'config-text' }, 'Configuration (XML)'), ta),
            h('div', { class: 'actions' }, checkBtn,
                actionButton('Show diff', showDiff), save,
                actionButton('Revert', loadConfig)),
            err, check, diffBox));
    await Promise.all([
        loadConfig(), reloadTyped(),
        api('GET', '/api/v1/stats').then(st => {
            clear(summary).appendChild(h('div', {},
                h('h3', {}, 'Hosts'), h('ul', { class: 'plain' },
                    (st.hosts || []).map(x => h('li', {}, x))),
                h('h3', {}, 'Listeners'), table(st.listeners || [], [
                    { key: 'type', label: 'Type' }, { key: 'address', label: 'Address' },
                    { key: 'port', label: 'Port' }, { key: 'tls', label: 'TLS' }]),
                st.limits ? [h('h3', {}, 'Limits'), dl(st.limits)] : null,
                h('p', { class: 'muted' }, 'Change limits, server-to-server ' +
                  'settings, listeners and components in their forms below, the ' +
                  'rest in the configuration file; saving applies them by reload.')));
        }, e => summary.appendChild(unavailable(e, 'Status'))),
        api('GET', '/api/v1/admins').then(a => clear(admins).appendChild(
            table(listOf(a, 'admins'), null, { valueLabel: 'JID', empty: 'No admins.' })),
            e => admins.appendChild(unavailable(e, 'The admin list'))),
    ]);
}

// ---- certificates ----

export async function certs(main) {
    main.appendChild(h('h1', {}, 'TLS certificates'));
    const list = h('div', { id: 'cert-list' });
    const load = async () => {
        try {
            const rows = listOf(await api('GET', '/api/v1/certs'), 'certs');
            clear(list).appendChild(table(rows, [
                { key: 'host', label: 'Host', render: v => v || '(default)' },
                { key: 'names', label: 'Names' },
                { key: 'issuer', label: 'Issuer' },
                { key: 'not_after', label: 'Expires' },
                { key: 'expires_in_days', label: 'Days left', render: (v, r) =>
                    r.error ? h('span', { class: 'badge failed' }, r.error)
                    : h('span', { class: 'badge ' + (v < 0 ? 'failed' : v < 14 ? 'warn' : 'loaded') },
                        v === undefined ? '–' : String(v)) },
                { key: 'self_signed', label: 'Self-signed' },
                { key: 'file', label: 'File' },
            ], { empty: 'No certificates configured.', label: 'Certificates' }));
        } catch (e) { clear(list).appendChild(unavailable(e, 'Certificates')); }
    };
    const fileField = (ta, label) => {
        const id = ta.id + '-file';
        const inp = h('input', { type: 'file', id, accept: '.pem,.crt,.key' });
        inp.addEventListener('change', async () => {
            if (inp.files[0]) ta.value = await inp.files[0].text();
        });
        return h('div', { class: 'field' }, h('label', { for: id }, label), inp);
    };
    const up = form({
        title: 'Upload certificate and key', submit: 'Upload',
        fields: [
            { name: 'host', label: 'Certificate host', type: 'select',
              options: hostSelectOptions() },
            { name: 'cert', label: 'Certificate (PEM)', type: 'textarea', required: true,
              validate: v => /-----BEGIN CERTIFICATE-----/.test(v) ? null
                  : 'The certificate must be PEM (-----BEGIN CERTIFICATE-----).' },
            { name: 'key', label: 'Private key (PEM)', type: 'textarea',
              placeholder: 'Leave empty for the key of a pending signing request',
              validate: v => !v.trim() || /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v) ? null
                  : 'The key must be a PEM private key.' },
        ],
        onSubmit: async (v, f) => {
            const body = { host: v.host, cert: v.cert };
            if (v.key.trim()) body.key = v.key;
            await api('POST', '/api/v1/certs', body);
            f.reset();
            toast('Certificate installed.');
            await load();
        },
    });
    up.inputs.cert.parentNode.after(fileField(up.inputs.cert, 'Certificate file'));
    up.inputs.key.parentNode.after(fileField(up.inputs.key, 'Key file'));
    const gen = form({
        title: 'Generate a self-signed certificate', submit: 'Generate',
        fields: [{ name: 'host', label: 'Host to generate for', type: 'select',
                   options: hostSelectOptions() }],
        onSubmit: async (v) => {
            await api('POST', '/api/v1/certs/generate', { host: v.host });
            toast('Self-signed certificate generated for ' + v.host + '.');
            await load();
        },
    });
    const csrOut = h('div', { id: 'csr-out' });
    const req = form({
        title: 'Certificate signing request', submit: 'Make request',
        fields: [
            { name: 'host', label: 'Host to request for', type: 'select',
              options: hostSelectOptions() },
            { name: 'names', label: 'More names (comma separated, under the host)',
              placeholder: 'conference.example.org, upload.example.org' },
        ],
        onSubmit: async (v) => {
            const r = await api('POST', '/api/v1/certs/request',
                                { host: v.host, names: v.names || undefined });
            const pem = (r && (r.csr || (r.result && r.result.csr))) || '';
            const ta = h('textarea', { id: 'csr-pem', readonly: true, rows: 10,
                                       'aria-label': 'Signing request (PEM)' }, pem);
            const a = h('a', { href: URL.createObjectURL(new Blob([pem], { type: 'application/pkcs10' })),
                               download: v.host + '.csr' }, 'Download ' + v.host + '.csr');
            clear(csrOut).append(h('p', {}, 'Give this request to your CA, then upload the ' +
                                   'certificate it issues with the key left empty.'), ta, a);
            toast('Signing request made for ' + v.host + '.');
        },
    });
    main.append(section('Certificates in use', list),
        h('div', { class: 'two' }, h('section', { class: 'card' }, up),
          h('section', { class: 'card' }, gen)),
        h('section', { class: 'card' }, req, csrOut));
    await load();
}

// ---- logs: the recent lines, then a live tail ----

const LEVELS = ['debug', 'info', 'warn', 'error'];
const MAX_LINES = 1000;

function logLine(l) {
    if (typeof l === 'string') return { text: l, level: '' };
    const ts = fmtTime(l.time ?? l.ts ?? l.timestamp ?? '');
    const level = String(l.level || l.severity || '').toLowerCase();
    const src = l.area || l.module || l.source || l.subsystem || '';
    const msg = l.msg || l.message || l.text || l.line || JSON.stringify(l);
    return { text: [ts, level.toUpperCase(), src ? src + ':' : '', msg]
                 .filter(Boolean).join(' '), level };
}

export async function logs(main) {
    main.appendChild(h('h1', {}, 'Logs'));
    const level = h('select', { id: 'log-level' },
        LEVELS.map(l => h('option', { value: l }, l)));
    level.value = 'info';
    const pause = h('input', { type: 'checkbox', id: 'log-pause' });
    const out = h('pre', { class: 'log', id: 'log-lines', 'aria-label': 'Log lines',
                           'aria-live': 'off', tabindex: '0' });
    const status = h('span', { class: 'muted', id: 'log-status' });
    const err = errorBox();
    let es = null, count = 0;
    const gen = state.gen;
    const add = (l) => {
        const x = logLine(l);
        out.appendChild(h('span', { class: 'lvl-' + x.level }, x.text + '\n'));
        while (out.childNodes.length > MAX_LINES) out.removeChild(out.firstChild);
        count++;
        out.dataset.lines = String(count);
        if (!pause.checked) out.scrollTop = out.scrollHeight;
    };
    const start = async () => {
        if (es) es.close();
        clear(out);
        count = 0;
        err.show(null);
        try {
            const r = await api('GET', '/api/v1/logs?level=' + enc(level.value) +
                                '&limit=200');
            listOf(r, 'lines', 'logs', 'entries').forEach(add);
        } catch (e) { err.show(e); }
        if (gen !== state.gen) return;
        if (es) es.close();
        es = new EventSource('/api/v1/logs/stream?level=' + enc(level.value));
        es.addEventListener('open', () => { status.textContent = 'Live'; });
        es.addEventListener('log', (ev) => {
            if (pause.checked) return;
            try { add(JSON.parse(ev.data)); } catch (e) { add(ev.data); }
        });
        es.addEventListener('error', () => {
            status.textContent = es.readyState === EventSource.CLOSED
                ? 'Stream closed' : 'Reconnecting…';
        });
    };
    onLeave(() => es && es.close());
    level.addEventListener('change', start);
    main.append(section('Live tail',
        h('div', { class: 'toolbar' },
            h('label', { for: 'log-level' }, 'Minimum level'), level,
            h('label', { class: 'check', for: 'log-pause' }, pause, ' Pause'),
            actionButton('Clear', async () => clear(out)), status),
        err, out));
    await start();
}

// ---- audit log: what admins did, newest first, a page at a time ----

const AUDIT_PAGE = 50;

function auditDetail(d) {
    if (!d || typeof d !== 'object') return '';
    return Object.entries(d).map(([k, v]) =>
        k + '=' + (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(' ');
}

export async function audit(main) {
    main.appendChild(h('h1', {}, 'Audit log'));
    const action = h('input', { id: 'audit-action', type: 'text', placeholder: 'all',
                                autocomplete: 'off' });
    const list = h('div', { id: 'audit-list' });
    const err = errorBox();
    const more = h('div', {});
    let rows = [];
    const show = () => {
        clear(list).appendChild(table(rows, [
            { key: 'at', label: 'When', render: fmtTime },
            { key: 'actor', label: 'Who' },
            { key: 'origin', label: 'From' },
            { key: 'action', label: 'Action' },
            { key: 'detail', label: 'Details', render: auditDetail },
            { key: 'result', label: 'Result', render: (v, r) =>
                h('span', { class: 'badge ' + (v === 'ok' ? 'loaded' : 'failed'),
                            title: r.message || '' },
                  v === 'ok' ? 'ok' : 'error' + (r.message ? ': ' + r.message : '')) },
        ], { empty: 'No admin actions recorded yet.', label: 'Audit log' }));
    };
    const load = async (before) => {
        err.show(null);
        let q = '?max=' + AUDIT_PAGE;
        if (action.value.trim()) q += '&action=' + enc(action.value.trim());
        if (before) q += '&before=' + enc(before);
        try {
            const r = await api('GET', '/api/v1/audit' + q);
            const page = listOf(r, 'entries');
            rows = before ? rows.concat(page) : page;
            show();
            clear(more);
            if (r && r.more)
                more.appendChild(actionButton('Older', () => load(rows[rows.length - 1].id),
                                              { error: err }));
        } catch (e) { clear(list); err.show(e); }
    };
    const filter = h('form', { class: 'toolbar', role: 'search' },
        h('label', { for: 'audit-action' }, 'Action'), action,
        h('button', { type: 'submit' }, 'Filter'));
    filter.addEventListener('submit', (ev) => { ev.preventDefault(); load(null); });
    main.append(section('Admin actions', filter, err, list, more));
    await load(null);
}

// ---- API keys ----

export async function keys(main) {
    main.appendChild(h('h1', {}, 'API keys'));
    const list = h('div', { id: 'key-list' });
    const shown = h('div', {});
    const load = async () => {
        try {
            const rows = listOf(await api('GET', '/api/v1/keys'), 'keys');
            clear(list).appendChild(table(rows, [
                { key: 'name', label: 'Name' }, { key: 'id', label: 'ID' },
                { key: 'created', label: 'Created', render: fmtTime },
                { key: 'last_used', label: 'Last used', render: v => v ? fmtTime(v) : 'never' },
                { key: 'id', label: 'Action', render: (id, k) =>
                    confirmButton('Revoke', async () => {
                        try {
                            await api('DELETE', '/api/v1/keys/' + enc(id));
                            toast('Key ' + (k.name || id) + ' revoked.');
                        } catch (e) { toast(errorText(e), 'bad'); }
                        await load();
                    }, { ariaLabel: 'Revoke ' + (k.name || id) }) },
            ], { empty: 'No API keys yet.', label: 'API keys' }));
        } catch (e) { clear(list).appendChild(unavailable(e, 'API keys')); }
    };
    const create = form({
        title: 'Create a key', submit: 'Create key',
        fields: [{ name: 'name', label: 'Key name', required: true,
                   placeholder: 'monitoring',
                   validate: v => v.length <= 64 ? null : 'At most 64 characters.' }],
        onSubmit: async (v, f) => {
            const k = await api('POST', '/api/v1/keys', { name: v.name });
            f.reset();
            clear(shown).appendChild(notice([
                h('strong', {}, 'Key ' + (k.name || v.name) + ' created. '),
                'Copy it now, it is not shown again: ',
                h('code', { class: 'secret', id: 'new-key' }, k.key)], 'ok'));
            await load();
        },
    });
    main.append(h('div', { class: 'two' }, section('Keys', list),
        h('section', { class: 'card' }, create, shown,
          h('p', { class: 'muted' }, 'Use a key as "Authorization: Bearer <key>" ' +
            'for /api/v1 and /metrics.'))));
    await load();
}
