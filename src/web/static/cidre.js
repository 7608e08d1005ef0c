// cidre's only script: live statuses and the live job log. Every page works
// without it; it only keeps what is shown current without a reload.
(function () {
	'use strict';
	var FINISHED = { success: 1, failed: 1, canceled: 1, skipped: 1 };

	// ---- statuses: every unfinished one is polled from the JSON API ----
	function setStatus(el, s) {
		var cls = (el.getAttribute('class') || '').replace(/\bst-[a-z_]+/g, 'st-' + s);
		el.setAttribute('class', cls);
		if (el.classList.contains('st')) el.textContent = s;
	}
	// Pipelines one request each; jobs one request per pipeline (its jobs
	// list) when the page says which pipeline they are in (data-in).
	function poll() {
		var els = document.querySelectorAll('[data-pipeline],[data-job]');
		var want = {};
		els.forEach(function (el) {
			var m = /\bst-([a-z_]+)/.exec(el.getAttribute('class') || '');
			if (!m || FINISHED[m[1]]) return;
			var key = el.hasAttribute('data-pipeline') ? 'pipelines/' + el.getAttribute('data-pipeline')
				: el.hasAttribute('data-in') ? 'pipelines/' + el.getAttribute('data-in') + '/jobs'
				: 'jobs/' + el.getAttribute('data-job');
			(want[key] = want[key] || []).push(el);
		});
		var keys = Object.keys(want);
		if (!keys.length) return;
		var left = keys.length;
		keys.forEach(function (k) {
			fetch('/api/v1/' + k, { credentials: 'same-origin' }).then(function (r) {
				return r.ok ? r.json() : null;
			}).then(function (o) {
				if (!o) return;
				if (Array.isArray(o)) {
					var by = {};
					o.forEach(function (j) { by[j.id] = j.status; });
					want[k].forEach(function (el) {
						var s = by[el.getAttribute('data-job')];
						if (s) setStatus(el, s);
					});
				} else if (o.status) {
					want[k].forEach(function (el) { setStatus(el, o.status); });
				}
			}).catch(function () {}).then(function () {
				if (--left === 0) setTimeout(poll, 1000);
			});
		});
	}

	// ---- the live log: SGR colours only, sections, line anchors ----
	function Log(pre, end) {
		this.pre = pre;
		this.line = parseInt(end.getAttribute('data-lines'), 10) || 0;
		this.fg = -1; this.bg = -1; this.bold = 0; this.italic = 0; this.under = 0;
		this.partial = '';
		// open sections at the end of what the server rendered
		this.stack = [];
		var self = this;
		pre.querySelectorAll('i.sec-end').forEach(function (i) { self.stack.push(i.parentNode); });
	}
	Log.prototype.target = function () {
		return this.stack.length ? this.stack[this.stack.length - 1] : this.pre;
	};
	Log.prototype.sgr = function (ps) {
		if (!ps.length) ps = [0];
		for (var i = 0; i < ps.length; i++) {
			var v = ps[i];
			if (v === 0) { this.fg = -1; this.bg = -1; this.bold = this.italic = this.under = 0; }
			else if (v === 1) this.bold = 1;
			else if (v === 3) this.italic = 1;
			else if (v === 4) this.under = 1;
			else if (v === 22) this.bold = 0;
			else if (v === 23) this.italic = 0;
			else if (v === 24) this.under = 0;
			else if (v >= 30 && v <= 37) this.fg = v - 30;
			else if (v === 39) this.fg = -1;
			else if (v >= 40 && v <= 47) this.bg = v - 40;
			else if (v === 49) this.bg = -1;
			else if (v >= 90 && v <= 97) this.fg = v - 82;
			else if (v >= 100 && v <= 107) this.bg = v - 92;
			else if (v === 38 || v === 48) { i += ps[i + 1] === 5 ? 2 : ps[i + 1] === 2 ? 4 : ps.length; }
		}
	};
	Log.prototype.text = function (parent, s) {
		// s: one line without markers; escapes parsed, text added as text nodes
		var re = /\x1b\[([0-9;:?]*)[ -\/]*([@-~])|\x1b[\]P_^X][^\x07\x1b]*(\x07|\x1b\\|$)|\x1b.?|[\x00-\x08\x0a-\x1f\x7f]/g;
		var last = 0, m, self = this;
		function add(t) {
			if (!t) return;
			var cls = [];
			if (self.fg >= 0) cls.push('f' + self.fg);
			if (self.bg >= 0) cls.push('b' + self.bg);
			if (self.bold) cls.push('B');
			if (self.italic) cls.push('I');
			if (self.under) cls.push('U');
			if (!cls.length) { parent.appendChild(document.createTextNode(t)); return; }
			var sp = document.createElement('span');
			sp.className = cls.join(' ');
			sp.textContent = t;
			parent.appendChild(sp);
		}
		while ((m = re.exec(s)) !== null) {
			add(s.slice(last, m.index));
			last = re.lastIndex;
			if (m[2] === 'm' && m[1].indexOf('?') < 0)
				self.sgr(m[1] === '' ? [] : m[1].split(/[;:]/).map(function (x) { return parseInt(x, 10) || 0; }));
			if (m[0] === '') re.lastIndex++;
		}
		add(s.slice(last));
	};
	Log.prototype.newLine = function (parent, s) {
		var n = ++this.line;
		var l = document.createElement('span');
		l.className = 'l';
		l.id = 'L' + n;
		var a = document.createElement('a');
		a.href = '#L' + n;
		a.textContent = String(n);
		l.appendChild(a);
		this.text(l, s);
		l.appendChild(document.createTextNode('\n'));
		parent.appendChild(l);
	};
	Log.prototype.addLine = function (s) {
		if (s.slice(-1) === '\r') s = s.slice(0, -1);
		var m = /^(?:\x1b\[0K)?section_(start|end):\d{1,20}:([A-Za-z0-9_.\-]{1,64})(\[[^\]]{0,64}\])?\r(?:\x1b\[0K)?/.exec(s);
		if (m) s = s.slice(m[0].length);
		var cr = s.lastIndexOf('\r');
		if (cr >= 0) s = s.slice(cr + 1);
		if (m && m[1] === 'start' && this.stack.length < 16) {
			var d = document.createElement('details');
			d.className = 'sec';
			d.setAttribute('data-name', m[2]);
			if (!m[3] || m[3].indexOf('collapsed=true') < 0) d.open = true;
			var sum = document.createElement('summary');
			d.appendChild(sum);
			this.target().appendChild(d);
			this.newLine(sum, s);
			this.stack.push(d);
			return;
		}
		if (m && m[1] === 'end') {
			for (var i = this.stack.length - 1; i >= 0; i--) {
				var nm = this.stack[i].getAttribute('data-name');
				if (nm === m[2]) { this.stack.length = i; break; }
			}
			if (!s) { this.line++; return; }
		}
		this.newLine(this.target(), s);
	};
	Log.prototype.feed = function (t) {
		var parts = (this.partial + t).split('\n');
		this.partial = parts.pop();
		for (var i = 0; i < parts.length; i++) this.addLine(parts[i]);
	};
	Log.prototype.finish = function () {
		if (this.partial) this.addLine(this.partial);
		this.partial = '';
	};

	function follow(end) {
		var pre = document.getElementById('log');
		if (!pre || !window.EventSource) return;
		var log = new Log(pre, end);
		var job = end.getAttribute('data-job');
		var es = new EventSource('/api/v1/jobs/' + job + '/log/stream?offset=' + end.getAttribute('data-offset'));
		es.addEventListener('log', function (e) {
			var d = JSON.parse(e.data);
			var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
			log.feed(d.text);
			if (atBottom) window.scrollTo(0, document.body.scrollHeight);
		});
		es.addEventListener('end', function (e) {
			var d = JSON.parse(e.data);
			log.finish();
			es.close();
			document.querySelectorAll('[data-job="' + job + '"]').forEach(function (el) {
				if (el !== end) setStatus(el, d.status);
			});
		});
	}

	document.addEventListener('DOMContentLoaded', function () {
		var end = document.getElementById('log-end');
		if (end && end.getAttribute('data-live') === '1') follow(end);
		poll();
	});
})();
