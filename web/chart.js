// A small line chart on <canvas>: a rolling window of samples, the
// maximum as scale, the current value in the corner.  No dependencies.

export class LineChart {
    constructor(label, opts = {}) {
        this.label = label;
        this.max = opts.points || 150;      // 5 minutes at one sample per 2 s
        this.format = opts.format || (v => String(Math.round(v * 10) / 10));
        this.samples = [];
        this.canvas = document.createElement('canvas');
        this.canvas.className = 'chart';
        this.canvas.setAttribute('role', 'img');
        this.canvas.setAttribute('aria-label', label + ' chart');
        this.canvas.dataset.samples = '0';
        this.canvas.width = 300;
        this.canvas.height = 90;
    }

    push(v) {
        if (typeof v !== 'number' || !isFinite(v)) return;
        this.samples.push(v);
        if (this.samples.length > this.max) this.samples.shift();
        this.canvas.dataset.samples = String(this.samples.length);
        this.canvas.dataset.last = String(v);
        this.draw();
    }

    draw() {
        const c = this.canvas;
        const dpr = window.devicePixelRatio || 1;
        const w = Math.max(120, c.clientWidth || 300);
        const hgt = Math.max(60, c.clientHeight || 90);
        if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
            c.width = Math.round(w * dpr);
            c.height = Math.round(hgt * dpr);
        }
        const g = c.getContext('2d');
        g.setTransform(dpr, 0, 0, dpr, 0, 0);
        g.clearRect(0, 0, w, hgt);
        const css = getComputedStyle(c);
        const line = css.getPropertyValue('--chart-line').trim() || '#2563eb';
        const fill = css.getPropertyValue('--chart-fill').trim() || 'rgba(37,99,235,.15)';
        const text = css.getPropertyValue('--chart-text').trim() || '#64748b';
        const grid = css.getPropertyValue('--chart-grid').trim() || '#e2e8f0';
        const s = this.samples;
        const top = Math.max(1e-9, ...s) * 1.15 || 1;
        const pad = 14;
        g.strokeStyle = grid;
        g.lineWidth = 1;
        for (let i = 0; i <= 2; i++) {
            const y = pad + (hgt - pad - 2) * i / 2 + 0.5;
            g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
        }
        g.font = '11px system-ui, sans-serif';
        g.fillStyle = text;
        g.textBaseline = 'top';
        g.fillText('max ' + this.format(top / 1.15), 2, 1);
        if (s.length) {
            const cur = this.format(s[s.length - 1]);
            g.fillText(cur, w - g.measureText(cur).width - 2, 1);
        }
        if (s.length < 2) return;
        const step = w / (this.max - 1);
        const x0 = w - step * (s.length - 1);
        const y = v => hgt - 2 - (hgt - pad - 4) * (v / top);
        g.beginPath();
        s.forEach((v, i) => i ? g.lineTo(x0 + i * step, y(v))
                              : g.moveTo(x0, y(v)));
        g.strokeStyle = line;
        g.lineWidth = 1.5;
        g.stroke();
        g.lineTo(x0 + (s.length - 1) * step, hgt);
        g.lineTo(x0, hgt);
        g.closePath();
        g.fillStyle = fill;
        g.fill();
    }
}
