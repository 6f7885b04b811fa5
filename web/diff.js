// Line diff by longest common subsequence, for the config editor: the
// operator sees exactly which lines a save changes.  O(n*m) memory is fine
// for config files of a few thousand lines; beyond that, common prefix and
// suffix are trimmed first so a typical edit stays small.

export function diffLines(a, b) {
    const A = a.split('\n'), B = b.split('\n');
    let pre = 0;
    while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
    let suf = 0;
    while (suf < A.length - pre && suf < B.length - pre &&
           A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++;
    const a2 = A.slice(pre, A.length - suf), b2 = B.slice(pre, B.length - suf);
    const n = a2.length, m = b2.length;
    const L = [];
    for (let i = 0; i <= n; i++) L.push(new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
        for (let j = m - 1; j >= 0; j--)
            L[i][j] = a2[i] === b2[j] ? L[i + 1][j + 1] + 1
                                      : Math.max(L[i + 1][j], L[i][j + 1]);
    const out = [];
    for (let k = 0; k < pre; k++)
        out.push({ op: ' ', text: A[k], a: k + 1, b: k + 1 });
    let i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a2[i] === b2[j]) {
            out.push({ op: ' ', text: a2[i], a: pre + i + 1, b: pre + j + 1 });
            i++; j++;
        } else if (i < n && (j >= m || L[i + 1][j] >= L[i][j + 1])) {
            out.push({ op: '-', text: a2[i], a: pre + i + 1 });
            i++;
        } else {
            out.push({ op: '+', text: b2[j], b: pre + j + 1 });
            j++;
        }
    }
    for (let k = 0; k < suf; k++)
        out.push({ op: ' ', text: A[A.length - suf + k],
                   a: A.length - suf + k + 1, b: B.length - suf + k + 1 });
    return out;
}

// Changed lines with `context` unchanged lines around them; gaps as '…'.
export function hunks(d, context = 3) {
    const keep = new Array(d.length).fill(false);
    d.forEach((x, i) => {
        if (x.op !== ' ')
            for (let k = Math.max(0, i - context);
                 k <= Math.min(d.length - 1, i + context); k++) keep[k] = true;
    });
    const out = [];
    let gap = false;
    d.forEach((x, i) => {
        if (keep[i]) { out.push(x); gap = false; }
        else if (!gap) { out.push({ op: '…', text: '' }); gap = true; }
    });
    return out;
}
