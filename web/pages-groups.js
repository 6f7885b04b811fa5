// Page: shared roster groups (mod_groups): list, create, rename, members,
// and who sees whom.
import { api, h, clear, enc, encPath, form, table, toast, errorBox,
         confirmButton, actionButton, section, listOf, unavailable,
         validateJid } from './util.js';

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

function showToText(list) {
    if (!list || !list.length) return 'nobody (hidden)';
    return list.map(t => t === '@members' ? 'its members' : 'members of ' + t)
        .join(', ');
}

export async function groups(main, arg) {
    main.appendChild(h('h1', {}, 'Shared roster groups'));
    const list = h('div', {}), detail = h('div', {});
    let all = [];
    const load = async () => {
        try {
            all = listOf(await api('GET', '/api/v1/groups'), 'groups');
            clear(list).appendChild(table(all, [
                { key: 'id', label: 'Id' },
                { key: 'name', label: 'Roster group name' },
                { key: 'members', label: 'Members' },
                { key: 'show_to', label: 'Shown to', render: showToText },
            ], {
                empty: 'No groups yet.', label: 'Groups',
                rowAttrs: g => ({ 'data-group': g.id }),
                action: { label: 'Action', render: g => h('a', {
                    href: '#/groups/' + enc(g.id), 'aria-label': 'Edit ' + g.id },
                    'Edit') } }));
            return true;
        } catch (e) {
            clear(list).appendChild(unavailable(e, 'Shared roster groups'));
            return false;
        }
    };
    const create = form({
        title: 'New group', submit: 'Create group', inline: true,
        fields: [
            { name: 'id', label: 'Id', required: true, placeholder: 'sales',
              validate: v => ID_RE.test(v) ? null
                  : 'The id is 1 to 64 letters, digits, "-", "_" or ".".' },
            { name: 'name', label: 'Roster group name', required: true,
              placeholder: 'Sales' },
        ],
        onSubmit: async (v, f) => {
            await api('POST', '/api/v1/groups', { id: v.id, name: v.name });
            toast('Group ' + v.id + ' created.');
            f.reset();
            location.hash = '#/groups/' + enc(v.id);
        },
    });
    main.append(section('Groups', list,
        h('p', { class: 'help' }, 'Members of a group see the members of '
          + 'the groups shown to them in their contact lists, with '
          + 'presence both ways; changes reach online users at once.'),
        create), detail);
    if (await load() && arg) await showGroup(detail, arg, () => all, load);
}

async function showGroup(detail, id, allGroups, reloadList) {
    const base = '/api/v1/groups/' + encPath(id);
    clear(detail);
    let g;
    try { g = await api('GET', base); }
    catch (e) { detail.appendChild(unavailable(e, 'Group ' + id)); return; }
    const again = async () => { await reloadList(); await showGroup(detail, id, allGroups, reloadList); };
    const err = errorBox();

    const rename = form({
        title: 'Rename', submit: 'Rename', inline: true,
        fields: [{ name: 'name', label: 'Roster group name', required: true,
                   value: g.name }],
        onSubmit: async (v) => {
            await api('PUT', base + '/name', { name: v.name });
            toast('Group renamed.');
            await again();
        },
    });

    const members = table(g.members.map(j => ({ jid: j })),
        [{ key: 'jid', label: 'Member' }], {
            empty: 'No members yet.', label: 'Members',
            rowAttrs: m => ({ 'data-member': m.jid }),
            action: { label: 'Action', render: m => actionButton('Remove',
                async () => {
                    await api('DELETE', base + '/members', { jid: m.jid });
                    toast(m.jid + ' removed.');
                    await again();
                }, { ariaLabel: 'Remove ' + m.jid, error: err }) } });
    const add = form({
        title: 'Add a member', submit: 'Add member', inline: true,
        fields: [{ name: 'jid', label: 'JID', required: true,
                   placeholder: 'user@host', validate: validateJid }],
        onSubmit: async (v) => {
            await api('POST', base + '/members', { jid: v.jid });
            toast(v.jid + ' added.');
            await again();
        },
    });

    // Who sees this group: its own members, and each other group.
    const targets = [{ to: '@members', label: 'Its own members' }].concat(
        allGroups().filter(o => o.id !== g.id).map(o => ({
            to: o.id, label: 'Members of ' + o.name + ' (' + o.id + ')' })));
    const seers = h('ul', { class: 'checks', 'aria-label': 'Shown to' },
        targets.map(t => {
            const box = h('input', { type: 'checkbox', id: 'show-' + t.to,
                                     'data-to': t.to });
            box.checked = g.show_to.includes(t.to);
            box.addEventListener('change', async () => {
                box.disabled = true;
                try {
                    await api('POST', base + (box.checked ? '/show' : '/hide'),
                              { to: t.to });
                    toast(box.checked ? 'Now shown to ' + t.label.toLowerCase() + '.'
                                      : 'No longer shown to ' + t.label.toLowerCase() + '.');
                    await again();
                } catch (e) { box.checked = !box.checked; err.show(e); box.disabled = false; }
            });
            return h('li', {}, box, h('label', { for: 'show-' + t.to }, t.label));
        }));
    const hideAll = actionButton('Hide from everyone', async () => {
        await api('POST', base + '/show', { to: '@nobody' });
        toast('Group hidden.');
        await again();
    }, { error: err });

    detail.appendChild(section('Group ' + g.id,
        h('p', {}, 'Shown as "', h('strong', {}, g.name), '" to ',
          showToText(g.show_to), '.'),
        err, rename,
        h('h3', {}, 'Members'), members, add,
        h('h3', {}, 'Who sees this group'), seers,
        h('div', { class: 'actions' }, hideAll),
        h('div', { class: 'danger-zone' },
            h('div', { class: 'actions' }, confirmButton('Delete group', async () => {
                try {
                    await api('DELETE', base, {});
                    toast('Group deleted.');
                    location.hash = '#/groups';
                } catch (e) { err.show(e); }
            })))));
}
