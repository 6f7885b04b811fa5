// Shared helpers of the console: the API client, DOM building, forms.
// Every DOM text goes through textContent, never innerHTML, so nothing the
// server returns (JIDs, log lines, vCards) can inject markup.

// gen counts page changes: a page that awaited something checks it before
// opening streams or timers, so nothing outlives a page left meanwhile.
export const state = { session: null, hosts: [], cleanups: [], gen: 0 };

export class ApiError extends Error {
    constructor(status, body) {
        const code = (body && body.error) || ('http_' + status);
        const detail = (body && body.detail) || '';
        super(detail ? code + ': ' + detail : code);
        this.status = status;
        this.code = code;
        this.detail = detail;
        this.body = body || {};
    }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// fetch wrapper: JSON in and out, CSRF token on state-changing requests,
// a 401 outside the login flow means the session expired.
export async function api(method, path, body, opts = {}) {
    const headers = { 'Accept': 'application/json' };
    if (method !== 'GET' && state.session && state.session.csrf)
        headers['X-CSRF-Token'] = state.session.csrf;
    if (body !== undefined)
        headers['Content-Type'] = 'application/json';
    let r;
    try {
        r = await fetch(path, {
            method, headers, credentials: 'same-origin',
            body: body !== undefined ? JSON.stringify(body) : undefined,
        });
    } catch (e) {
        throw new ApiError(0, { error: 'network', detail: String(e.message || e) });
    }
    let data = null;
    const text = await r.text();
    if (text) {
        try { data = JSON.parse(text); } catch (e) { data = { text }; }
    }
    if (!r.ok) {
        if (r.status === 401 && !opts.allow401)
            onUnauthorized(data);
        throw new ApiError(r.status, data);
    }
    return data;
}

export const enc = encodeURIComponent;

// A JID as a path segment: the core refuses an encoded slash (%2F) and
// routes take full JIDs as they are (alice@host/res), so '@' and '/' stay
// literal while everything else is percent-encoded.
export function encPath(s) {
    return encodeURIComponent(s).replace(/%40/g, '@').replace(/%2F/gi, '/');
}

// Server times come as ISO text, epoch seconds or epoch milliseconds.
export function fmtTime(v) {
    if (v === null || v === undefined || v === '') return '–';
    if (typeof v === 'number' || /^\d+$/.test(v)) {
        const n = Number(v);
        const d = new Date(n > 1e11 ? n : n * 1000);
        return isNaN(d) ? String(v) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    }
    return String(v);
}

// h('div', {class: 'x', onclick: fn}, child, 'text', [more])
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function')
            el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'value') el.value = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, v);
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else if (c instanceof Node) el.appendChild(c);
        else el.appendChild(document.createTextNode(String(c)));
    }
}

export function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
}

let uid = 0;
export function nextId(prefix) { return (prefix || 'f') + '-' + (++uid); }

// Run fn when the current page is left (timers, event sources).
export function onLeave(fn) { state.cleanups.push(fn); }

export function every(ms, fn) {
    const t = setInterval(fn, ms);
    onLeave(() => clearInterval(t));
    return t;
}

export function fmtBytes(n) {
    if (n === undefined || n === null || isNaN(n)) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    n = Number(n);
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(Math.round(n))) + ' ' + u[i];
}

export function fmtDuration(s) {
    if (s === undefined || s === null || isNaN(s)) return '–';
    s = Math.floor(Number(s));
    const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600),
          mm = Math.floor(s % 3600 / 60), ss = s % 60;
    if (d) return d + 'd ' + hh + 'h ' + mm + 'm';
    if (hh) return hh + 'h ' + mm + 'm ' + ss + 's';
    if (mm) return mm + 'm ' + ss + 's';
    return ss + 's';
}

export function fmtValue(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (Array.isArray(v))
        return v.every(x => typeof x !== 'object' || x === null)
            ? v.join(', ') : JSON.stringify(v);
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
}

// Arrays of objects from the API become tables; `cols` picks and names
// columns: [{key, label, render?}]. Without cols, the union of keys.
export function table(rows, cols, opts = {}) {
    rows = rows || [];
    if (!cols) {
        const keys = [];
        for (const r of rows)
            if (r && typeof r === 'object')
                for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
        cols = keys.map(k => ({ key: k, label: k }));
        if (rows.length && typeof rows[0] !== 'object')
            cols = [{ key: null, label: opts.valueLabel || 'value' }];
    }
    if (opts.action)
        cols = cols.concat([{ key: null, label: opts.action.label,
                              render: (_, r) => opts.action.render(r) }]);
    if (!rows.length)
        return h('p', { class: 'empty' }, opts.empty || 'Nothing to show.');
    const thead = h('thead', {}, h('tr', {},
        cols.map(c => h('th', { scope: 'col' }, c.label))));
    const tbody = h('tbody', {}, rows.map(r => {
        const tr = h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {});
        for (const c of cols) {
            const v = c.key === null ? r : r[c.key];
            const cell = c.render ? c.render(v, r) : fmtValue(v);
            tr.appendChild(h('td', { 'data-label': c.label }, cell));
        }
        return tr;
    }));
    return h('div', { class: 'table-wrap' },
        h('table', { class: 'data' + (opts.class ? ' ' + opts.class : ''),
                     'aria-label': opts.label }, thead, tbody));
}

const TIME_KEYS = /^(created|time|last_used|last_login|expires|not_before|not_after)$/;

// A plain object as a definition list, nested values as JSON.
export function dl(obj) {
    if (!obj || typeof obj !== 'object')
        return h('p', {}, fmtValue(obj));
    return h('dl', { class: 'kv' }, Object.entries(obj).map(([k, v]) =>
        [h('dt', {}, k), h('dd', {}, TIME_KEYS.test(k) && v !== null &&
                                      typeof v !== 'object'
                                      ? fmtTime(v) : fmtValue(v))]));
}

const CODE_TEXT = {
    locked: 'This account is locked.',
    csrf: 'The request was refused (CSRF token). Reload the page.',
    forbidden: 'Not allowed.',
    too_many_requests: 'Too many attempts; try again later.',
    unauthorized: 'Not logged in, or wrong JID or password.',
    network: 'The server cannot be reached.',
};

export function errorText(e) {
    if (!(e instanceof ApiError)) return String(e.message || e);
    let t = e.detail || CODE_TEXT[e.code] || e.code;
    if (e.body && e.body.retry_after)
        t += ' Retry in ' + e.body.retry_after + ' s.';
    return t + ' (' + e.code + ')';
}

export function errorBox() {
    const el = h('div', { class: 'error', role: 'alert', hidden: true });
    el.show = (e) => {
        if (!e) { el.hidden = true; el.textContent = ''; return; }
        el.textContent = errorText(e);
        el.hidden = false;
    };
    return el;
}

export function notice(text, kind) {
    return h('div', { class: 'notice ' + (kind || 'info'), role: 'status' },
        text);
}

let toastTimer = null;
export function toast(text, kind) {
    const t = document.getElementById('toast');
    t.textContent = text;
    t.className = 'toast ' + (kind || 'ok');
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

export const JID_RE = /^[^@\/\s"&'<>:]+@[^@\/\s"&'<>]+$/;
export const MIN_PASSWORD = 6;

export function validateJid(v) {
    return JID_RE.test(v) ? null
        : 'Enter a JID of the form user@host (no resource).';
}

export function validatePassword(v) {
    return v.length >= MIN_PASSWORD ? null
        : 'The password needs at least ' + MIN_PASSWORD + ' characters.';
}

// form({title, fields: [{name, label, type, required, validate, options,
// value, placeholder, autocomplete}], submit, onSubmit(values, form)}).
// Client-side checks first; an ApiError thrown by onSubmit is shown
// next to the form that caused it.
export function form(spec) {
    const err = errorBox();
    const inputs = {}, notes = {};
    const fields = spec.fields.map(f => {
        const id = nextId(f.name);
        let input;
        if (f.type === 'select') {
            input = h('select', { id, name: f.name },
                (f.options || []).map(o => typeof o === 'object'
                    ? h('option', { value: o.value }, o.label)
                    : h('option', { value: o }, o)));
            if (f.value !== undefined) input.value = f.value;
        } else if (f.type === 'textarea') {
            input = h('textarea', { id, name: f.name, rows: f.rows || 6,
                                    placeholder: f.placeholder,
                                    spellcheck: 'false' });
            input.value = f.value || '';
        } else if (f.type === 'checkbox') {
            input = h('input', { id, name: f.name, type: 'checkbox' });
            input.checked = !!f.value;
        } else {
            input = h('input', { id, name: f.name, type: f.type || 'text',
                                 placeholder: f.placeholder,
                                 autocomplete: f.autocomplete || 'off',
                                 value: f.value });
        }
        if (f.required) input.required = true;
        inputs[f.name] = input;
        // What is wrong with this field, said next to it (the form's alert
        // says it too, for screen readers).
        const note = notes[f.name] = h('small', { class: 'field-error',
                                                 id: id + '-error', hidden: true });
        input.setAttribute('aria-describedby', id + '-error');
        const cls = 'field' + (f.type === 'checkbox' ? ' check' : '') +
                    (f.wide ? ' wide' : '');
        return f.type === 'checkbox'
            ? h('div', { class: cls }, input, h('label', { for: id }, f.label), note)
            : h('div', { class: cls }, h('label', { for: id }, f.label), input,
                note, f.help ? h('small', {}, f.help) : null);
    });
    const fieldError = (name, msg) => {
        const n = notes[name];
        if (!n) return;
        n.textContent = msg || '';
        n.hidden = !msg;
        inputs[name].setAttribute('aria-invalid', msg ? 'true' : 'false');
    };
    const btn = h('button', { type: 'submit', class: 'primary' },
                  spec.submit || 'Save');
    const el = h('form', { class: 'form' + (spec.inline ? ' inline' : ''),
                           novalidate: true,
                           'aria-label': spec.title || spec.submit },
        spec.title ? h('h3', {}, spec.title) : null,
        h('div', { class: 'fields' }, fields),
        err, h('div', { class: 'actions' }, btn, spec.extra || null));
    el.inputs = inputs;
    el.error = err;
    el.fieldError = fieldError;
    el.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        err.show(null);
        for (const f of spec.fields) fieldError(f.name, null);
        const values = {};
        for (const f of spec.fields) {
            const i = inputs[f.name];
            const v = f.type === 'checkbox' ? i.checked
                : f.type === 'password' ? i.value : i.value.trim();
            if (f.required && (v === '' || v === false)) {
                err.show(new Error(f.label + ' is required.'));
                fieldError(f.name, f.label + ' is required.');
                i.focus();
                return;
            }
            const msg = f.validate && (v !== '' || f.required)
                ? f.validate(v, inputs) : null;
            if (msg) { err.show(new Error(msg)); fieldError(f.name, msg); i.focus(); return; }
            values[f.name] = v;
        }
        btn.disabled = true;
        try {
            await spec.onSubmit(values, el);
        } catch (e) {
            err.show(e);
        } finally {
            btn.disabled = false;
        }
    });
    return el;
}

// A button that must be pressed twice within 4 s: cheap protection
// against accidental deletes, with no modal dialog to script around.
export function confirmButton(label, onConfirm, opts = {}) {
    let armed = false, timer = null;
    const b = h('button', { type: 'button', class: opts.class || 'danger',
                            'aria-label': opts.ariaLabel }, label);
    const lower = s => s.charAt(0).toLowerCase() + s.slice(1);
    const disarm = () => {
        armed = false;
        b.textContent = label;
        if (opts.ariaLabel) b.setAttribute('aria-label', opts.ariaLabel);
        b.classList.remove('armed');
    };
    b.addEventListener('click', async () => {
        if (!armed) {
            armed = true;
            b.textContent = 'Confirm ' + lower(label);
            if (opts.ariaLabel)
                b.setAttribute('aria-label', 'Confirm ' + lower(opts.ariaLabel));
            b.classList.add('armed');
            timer = setTimeout(disarm, 4000);
            return;
        }
        clearTimeout(timer);
        disarm();
        b.disabled = true;
        try { await onConfirm(); } finally { b.disabled = false; }
    });
    return b;
}

export function actionButton(label, fn, opts = {}) {
    const b = h('button', { type: 'button', class: opts.class || '',
                            'aria-label': opts.ariaLabel }, label);
    b.addEventListener('click', async () => {
        b.disabled = true;
        try { await fn(); }
        catch (e) {
            if (opts.error) opts.error.show(e); else toast(errorText(e), 'bad');
        } finally { b.disabled = false; }
    });
    return b;
}

export function section(title, ...children) {
    return h('section', { class: 'card', 'aria-label': title },
        h('h2', {}, title), children);
}

// Commands of modules that are not loaded answer 503: say so plainly.
export function unavailable(e, what) {
    if (e instanceof ApiError && e.status === 503)
        return notice(what + ' is not available: ' +
                      (e.detail || 'its module is not loaded') + '.', 'warn');
    const b = errorBox();
    b.show(e);
    return b;
}

// Lists from commands come as arrays or as {items|users|...: [...]}.
export function listOf(data, ...keys) {
    if (Array.isArray(data)) return data;
    if (data && typeof data === 'object') {
        for (const k of keys.concat(['items', 'result', 'list']))
            if (Array.isArray(data[k])) return data[k];
        for (const v of Object.values(data)) if (Array.isArray(v)) return v;
    }
    return [];
}

export function hostSelectOptions(includeAll) {
    const o = state.hosts.map(x => ({ value: x, label: x }));
    if (includeAll) o.unshift({ value: '', label: includeAll });
    return o;
}
