// cidre's only script: live statuses and the live job log. Every page works
// without it; it only keeps what is shown current without a reload.
(function () {
	'use strict';
	var FINISHED = { success: 1, failed: 1, canceled: 1, skipped: 1 };

	// ---- statuses: pushed by /api/v1/events (SSE); polling only as a fallback ----
	function setStatus(el, s) {
		var cls = (el.getAttribute('class') || '').replace(/\bst-[a-z_]+/g, 'st-' + s);
		el.setAttribute('class', cls);
		if (el.classList.contains('st')) el.textContent = s;
	}
	// as the server's page_duration()
	function duration(sec) {
		if (sec === null || sec === undefined) return '';
		var ms = Math.round(sec * 1000);
		if (ms < 1000) return ms + ' ms';
		if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
		if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + (Math.floor(ms / 1000) % 60) + ' s';
		return Math.floor(ms / 3600000) + ' h ' + (Math.floor(ms / 60000) % 60) + ' min';
	}
	// What this page shows, from its path: the stream to follow and
	// whether a pipeline or job it does not show yet calls for a refresh.
	function pageKind() {
		var p = location.pathname, m;
		if (p === '/') return { url: '/api/v1/events', newPipelines: true, anyJob: true, rows: true };
		if ((m = /^\/p\/([^\/]+)$/.exec(p))) {
			var first = !/[?&]page=(?!1(&|$))/.test(location.search);
			return { url: '/api/v1/events?project=' + m[1], newPipelines: first, rows: true };
		}
		if ((m = /^\/pipelines\/(\d+)$/.exec(p)))
			return { url: '/api/v1/events?pipeline=' + m[1], pipeline: m[1], newJobs: true };
		if (/^\/jobs\/\d+$/.test(p)) {
			var end = document.getElementById('log-end');
			var pl = end && end.getAttribute('data-pipeline');
			if (pl) return { url: '/api/v1/events?pipeline=' + pl, job: true };
		}
		return null;
	}
	// Re-render the page's <main> from the server (the same page, fresh).
	var refreshing = false, again = false;
	function refresh() {
		if (refreshing) { again = true; return; }
		refreshing = true;
		setTimeout(function () {
			var asked = performance.now();
			fetch(location.href, { credentials: 'same-origin' }).then(function (r) {
				return r.ok ? r.text() : null;
			}).then(function (t) {
				if (!t) return;
				var doc = new DOMParser().parseFromString(t, 'text/html');
				var fresh = doc.querySelector('main'), old = document.querySelector('main');
				if (fresh && old) old.replaceWith(document.importNode(fresh, true));
				madeAt(asked);
			}).catch(function () {}).then(function () {
				refreshing = false;
				if (again) { again = false; refresh(); }
			});
		}, 200);
	}
	function onPipeline(kind, d) {
		var els = document.querySelectorAll('[data-pipeline="' + d.id + '"]');
		var stale = false;
		els.forEach(function (el) { if (el.id !== 'log-end') setStatus(el, d.status); });
		// its own page has its jobs: passed, with a job failed that was
		// allowed to (the server's page_status_warn())
		if (kind.pipeline === String(d.id)) {
			var warn = d.status === 'success' &&
				!!document.querySelector('.st.st-failed.allowed[data-job]');
			els.forEach(function (el) {
				if (!el.classList.contains('st')) return;
				el.classList.toggle('warnings', warn);
				if (warn) el.setAttribute('title', 'passed with warnings');
				else el.removeAttribute('title');
			});
		}
		stale = pipelineDuration(d);
		// a list's row that passed: whether with warnings (a job failed
		// that was allowed to) is the server's to say
		if (kind.rows && d.status === 'success' && els.length) stale = true;
		if (stale || (kind.newPipelines && !els.length)) refresh();
	}
	// A pipeline's duration cells, from its event or the API's object
	// d. A running pipeline has no duration yet: the page's "so far"
	// stays, and counts on (tick()). True when one runs (again) with a
	// cell that does not count: the server's figure is needed, a refresh.
	function pipelineDuration(d) {
		var stale = false;
		document.querySelectorAll('[data-duration="' + d.id + '"]').forEach(function (el) {
			if (d.duration !== null && d.duration !== undefined) {
				el.removeAttribute('data-run-ms');
				el.textContent = duration(d.duration);
			} else if (d.status !== 'running') {
				el.removeAttribute('data-run-ms');
			} else if (!el.hasAttribute('data-run-ms')) {
				stale = true;
			}
		});
		return stale;
	}
	// A job's duration cells. A running job's (data-run-ms: the time it
	// had run when the page was made, or the event sent) counts on: tick().
	function setDuration(id, status, sec) {
		document.querySelectorAll('[data-dur-job="' + id + '"]').forEach(function (el) {
			if (status === 'running' && sec !== null && sec !== undefined) {
				el.setAttribute('data-run-ms', String(Math.round(sec * 1000)));
				el.runFrom = performance.now();
			} else {
				el.removeAttribute('data-run-ms');
			}
			el.textContent = duration(sec);
		});
	}
	// Once a second. The page's own cells count from the navigation's
	// start (performance.now()'s origin), about when the page was made.
	// A running pipeline's (data-duration): its jobs' time so far, which
	// grows while one of them runs: on its page, while a job cell
	// counts; in a list (no job cells), while the server's attribute
	// says one runs (a pipeline or job event ends or renews it).
	function tick() {
		var now = performance.now(), running = false;
		var cells = document.querySelectorAll('[data-dur-job]').length > 0;
		document.querySelectorAll('[data-dur-job][data-run-ms]').forEach(function (el) {
			var ms = Number(el.getAttribute('data-run-ms')) + now - el.runFrom;
			el.textContent = duration(ms / 1000);
			running = true;
		});
		document.querySelectorAll('[data-duration][data-run-ms]').forEach(function (el) {
			if (running || !cells) el.runSum += now - el.runAt;
			el.runAt = now;
			el.textContent = duration(el.runSum / 1000);
		});
	}
	// The server made what runs at t (performance.now()'s scale): the
	// page at the navigation's start (0), a refreshed <main> when asked.
	function madeAt(t) {
		document.querySelectorAll('[data-run-ms]').forEach(function (el) {
			if (el.runFrom !== undefined || el.runAt !== undefined) return;
			el.runFrom = el.runAt = t;
			el.runSum = Number(el.getAttribute('data-run-ms'));
		});
	}
	function onJob(kind, d) {
		var els = document.querySelectorAll('[data-job="' + d.id + '"]');
		els.forEach(function (el) {
			if (el.id !== 'log-end' && el.id !== 'log') setStatus(el, d.status);
		});
		setDuration(d.id, d.status, d.duration);
		// a list row whose pipeline's time stands still while a job of
		// it now runs (the next stage's, a played one): the server's figure
		var still = d.status === 'running' && d.pipeline_id !== undefined &&
			document.querySelector('[data-duration="' + d.pipeline_id + '"]:not([data-run-ms])');
		if (kind.anyJob || (kind.newJobs && !els.length) || still) refresh();
	}
	function live() {
		var kind = pageKind();
		if (!kind || !window.EventSource) { poll(); return; }
		var failures = 0, leaving = false;
		var es = new EventSource(kind.url);
		// a page being left closes its stream: that is no failure
		window.addEventListener('beforeunload', function () { leaving = true; });
		window.addEventListener('pagehide', function () { leaving = true; es.close(); });
		window.cidreEvents = es;
		es.onopen = function () { failures = 0; };
		es.onerror = function () {
			// the browser reconnects by itself (with Last-Event-ID); after
			// repeated failures without an open in between, poll instead
			if (leaving) return;
			if (++failures >= 3 || es.readyState === 2) {
				es.close();
				window.cidreEvents = null;
				poll();
			}
		};
		es.addEventListener('pipeline', function (e) { onPipeline(kind, JSON.parse(e.data)); });
		es.addEventListener('job', function (e) { onJob(kind, JSON.parse(e.data)); });
		es.addEventListener('resync', function () {
			if (kind.job) pollOnce(function () {});
			else refresh();
		});
	}

	// Pipelines one request each; jobs one request per pipeline (its jobs
	// list) when the page says which pipeline they are in (data-in).
	function pollOnce(done) {
		var els = document.querySelectorAll('[data-pipeline],[data-job]');
		var want = {};
		els.forEach(function (el) {
			if (el.id === 'log-end' || el.id === 'log') return;
			var m = /\bst-([a-z_]+)/.exec(el.getAttribute('class') || '');
			if (!m || FINISHED[m[1]]) return;
			var key = el.hasAttribute('data-pipeline') ? 'pipelines/' + el.getAttribute('data-pipeline')
				: el.hasAttribute('data-in') ? 'pipelines/' + el.getAttribute('data-in') + '/jobs'
				: 'jobs/' + el.getAttribute('data-job');
			(want[key] = want[key] || []).push(el);
		});
		var keys = Object.keys(want);
		if (!keys.length) { done(false); return; }
		var left = keys.length;
		keys.forEach(function (k) {
			fetch('/api/v1/' + k, { credentials: 'same-origin' }).then(function (r) {
				return r.ok ? r.json() : null;
			}).then(function (o) {
				if (!o) return;
				if (Array.isArray(o)) {
					var by = {};
					o.forEach(function (j) {
						by[j.id] = j.status;
						setDuration(j.id, j.status, j.duration);
					});
					want[k].forEach(function (el) {
						var s = by[el.getAttribute('data-job')];
						if (s) setStatus(el, s);
					});
				} else if (o.status) {
					want[k].forEach(function (el) { setStatus(el, o.status); });
					if (k.indexOf('jobs/') === 0) setDuration(o.id, o.status, o.duration);
					else if (pipelineDuration(o)) refresh();
				}
			}).catch(function () {}).then(function () {
				if (--left === 0) done(true);
			});
		});
	}
	function poll() {
		pollOnce(function (more) { if (more) setTimeout(poll, 2000); });
	}

	// ---- the live log: SGR colours (16, 256, 24-bit) as ansi.c, sections, line anchors ----
	// fg/bg: -1 default, 0..15 a palette class, else a '#rrggbb' string
	function xterm(n) {
		var steps = [0, 95, 135, 175, 215, 255], r, g, b;
		if (n < 232) { n -= 16; r = steps[Math.floor(n / 36)]; g = steps[Math.floor(n / 6) % 6]; b = steps[n % 6]; }
		else { r = g = b = 8 + (n - 232) * 10; }
		return rgb(r, g, b);
	}
	function rgb(r, g, b) {
		return '#' + (((r & 255) << 16) | ((g & 255) << 8) | (b & 255)).toString(16).padStart(6, '0');
	}
	function Log(pre, end) {
		this.pre = pre;
		this.line = parseInt(end.getAttribute('data-lines'), 10) || 0;
		this.reset();
		// the colours in effect where the server's rendering stopped
		var st = end.getAttribute('data-sgr');
		if (st) this.sgr(st.split(';').map(function (x) { return parseInt(x, 10) || 0; }));
		this.partial = '';
		// open sections at the end of what the server rendered
		this.stack = [];
		var self = this;
		pre.querySelectorAll('i.sec-end').forEach(function (i) { self.stack.push(i.parentNode); });
		// lines on the page; past max (plus a tenth) the oldest are taken off
		this.max = parseInt(end.getAttribute('data-max-lines'), 10) || 0;
		this.count = pre.getElementsByClassName('l').length;
		this.raw = '/api/v1/jobs/' + end.getAttribute('data-job') + '/log';
	}
	Log.prototype.reset = function () {
		this.fg = -1; this.bg = -1;
		this.bold = this.dim = this.italic = this.under = this.inverse = 0;
	};
	Log.prototype.target = function () {
		return this.stack.length ? this.stack[this.stack.length - 1] : this.pre;
	};
	// 38;5;N / 38;2;R;G;B at ps[i]: [colour or undefined, params used after it]
	function extended(ps, i) {
		if (ps[i + 1] === 5 && i + 2 < ps.length) {
			var n = ps[i + 2];
			return [n >= 0 && n < 16 ? n : n >= 16 && n <= 255 ? xterm(n) : undefined, 2];
		}
		if (ps[i + 1] === 2 && i + 4 < ps.length) return [rgb(ps[i + 2], ps[i + 3], ps[i + 4]), 4];
		return [undefined, ps.length - i - 1];
	}
	Log.prototype.sgr = function (ps) {
		if (!ps.length) ps = [0];
		for (var i = 0; i < ps.length; i++) {
			var v = ps[i], x;
			if (v === 0) this.reset();
			else if (v === 1) this.bold = 1;
			else if (v === 2) this.dim = 1;
			else if (v === 3) this.italic = 1;
			else if (v === 4) this.under = 1;
			else if (v === 7) this.inverse = 1;
			else if (v === 22) this.bold = this.dim = 0;
			else if (v === 23) this.italic = 0;
			else if (v === 24) this.under = 0;
			else if (v === 27) this.inverse = 0;
			else if (v >= 30 && v <= 37) this.fg = v - 30;
			else if (v === 39) this.fg = -1;
			else if (v >= 40 && v <= 47) this.bg = v - 40;
			else if (v === 49) this.bg = -1;
			else if (v >= 90 && v <= 97) this.fg = v - 82;
			else if (v >= 100 && v <= 107) this.bg = v - 92;
			else if (v === 38 || v === 48) {
				x = extended(ps, i);
				if (x[0] !== undefined) { if (v === 38) this.fg = x[0]; else this.bg = x[0]; }
				i += x[1];
			}
		}
	};
	Log.prototype.text = function (parent, s) {
		// s: one line without markers; escapes parsed, text added as text nodes
		var re = /\x1b\[([0-9;:?]*)[ -\/]*([@-~])|\x1b[\]P_^X][^\x07\x1b]*(\x07|\x1b\\|$)|\x1b.?|[\x00-\x08\x0a-\x1f\x7f]/g;
		var last = 0, m, self = this;
		function add(t) {
			if (!t) return;
			var fg = self.fg, bg = self.bg;
			if (self.inverse) { fg = self.bg === -1 ? 0 : self.bg; bg = self.fg === -1 ? 7 : self.fg; }
			var cls = [], style = {};
			if (typeof fg === 'number' && fg >= 0) cls.push('f' + fg);
			else if (typeof fg === 'string') style.color = fg;
			if (typeof bg === 'number' && bg >= 0) cls.push('b' + bg);
			else if (typeof bg === 'string') style.background = bg;
			if (self.bold) cls.push('B');
			if (self.dim) cls.push('D');
			if (self.italic) cls.push('I');
			if (self.under) cls.push('U');
			if (!cls.length && !style.color && !style.background) {
				parent.appendChild(document.createTextNode(t));
				return;
			}
			var sp = document.createElement('span');
			sp.className = ['a'].concat(cls).join(' ');
			// CSSOM, not a style attribute: allowed by the page's CSP
			if (style.color) sp.style.color = style.color;
			if (style.background) sp.style.background = style.background;
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
		this.count++;
	};
	// Take the oldest lines off the page (whole sections at a time, never
	// one still open) until max are left, and say so once, above the log.
	Log.prototype.trim = function () {
		if (!this.max || this.count <= this.max + this.max / 10) return;
		var pre = this.pre, cut = 0;
		while (this.count > this.max && pre.firstChild) {
			var node = pre.firstChild;
			if (this.stack.indexOf(node) >= 0) break;
			var lines = node.nodeType !== 1 ? 0 :
				node.classList.contains('l') ? 1 : node.getElementsByClassName('l').length;
			pre.removeChild(node);
			this.count -= lines;
			cut += lines;
		}
		if (!cut || document.getElementById('log-trimmed')) return;
		var p = document.createElement('p');
		p.className = 'log-cut';
		p.id = 'log-trimmed';
		p.appendChild(document.createTextNode('The oldest lines were taken off this page as the job went on. '));
		var a = document.createElement('a');
		a.href = this.raw;
		a.textContent = 'The whole log';
		p.appendChild(a);
		pre.parentNode.insertBefore(p, pre);
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
		this.trim();
	};
	Log.prototype.finish = function () {
		if (this.partial) this.addLine(this.partial);
		this.partial = '';
	};

	var LOG_BATCH_MS = 50;

	function follow(end) {
		var pre = document.getElementById('log');
		if (!pre || !window.EventSource) return;
		var log = new Log(pre, end);
		var job = end.getAttribute('data-job');
		var es = new EventSource('/api/v1/jobs/' + job + '/log/stream?offset=' + end.getAttribute('data-offset'));
		// The text of the events that came within LOG_BATCH_MS, added in
		// one go: where the page is scrolled to is a layout of the whole
		// page, and one per event (431 events of ~5 kB for 125,000 lines)
		// made the page take 17.6 s to follow a job that printed them in
		// 0.1 s, its statuses waiting behind; 4–6 s now, most of it
		// making the lines' elements.
		var pending = [], timer = null;
		function flush() {
			timer = null;
			if (!pending.length) return;
			var text = pending.join('');
			pending = [];
			var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
			log.feed(text);
			if (atBottom) window.scrollTo(0, document.body.scrollHeight);
		}
		es.addEventListener('log', function (e) {
			pending.push(JSON.parse(e.data).text);
			if (!timer) timer = setTimeout(flush, LOG_BATCH_MS);
		});
		es.addEventListener('end', function (e) {
			var d = JSON.parse(e.data);
			if (timer) clearTimeout(timer);
			flush();
			log.finish();
			es.close();
			document.querySelectorAll('[data-job="' + job + '"]').forEach(function (el) {
				if (el !== end) setStatus(el, d.status);
			});
		});
	}

	// Forms that remove something ask first (data-confirm holds the
	// question); without this script they submit as they are.
	document.addEventListener('submit', function (e) {
		var q = e.target.getAttribute && e.target.getAttribute('data-confirm');
		if (q && !window.confirm(q)) e.preventDefault();
	});

	document.addEventListener('DOMContentLoaded', function () {
		var end = document.getElementById('log-end');
		if (end && end.getAttribute('data-live') === '1') follow(end);
		live();
		madeAt(0);
		// what counts on may also come later, with a refreshed <main>
		if (pageKind()) setInterval(tick, 1000);
	});
})();
