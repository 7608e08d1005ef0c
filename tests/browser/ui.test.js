// The web UI in a real browser: Debian's chromium driven by playwright-core.
// Run by tests/e2e/t3300-browser.sh, which starts the server and makes the
// repositories; this script prints TAP.
//
// Environment: CIDRE_URL, CIDRE_TOKEN (the admin token, for set-up through
// the API: users, membership), WORK (a clone whose
// origin is a bare repository with cidre's post-receive hook), GATE (a file
// the first job waits for), PROFILE (a fresh browser profile directory),
// CHROMIUM (default /usr/bin/chromium).
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const URL = process.env.CIDRE_URL;
const TOKEN = process.env.CIDRE_TOKEN;
const WORK = process.env.WORK;
const GATE = process.env.GATE;
const PROFILE = process.env.PROFILE;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync'];
const EVIL = '<script>alert(1)</script>';

let n = 0, failed = 0;
const dialogs = [];
let dialogAnswer = 'dismiss';   // what the dialog handlers answer

function tap(ok, name, why) {
	n++;
	if (!ok) failed++;
	console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${name}`);
	if (!ok && why) console.log(String(why && why.stack || why).split('\n').map(l => '#   ' + l).join('\n'));
}

async function step(name, fn) {
	try {
		await fn();
		tap(true, name);
	} catch (e) {
		tap(false, name, e);
	}
}

function assert(c, msg) {
	if (!c) throw new Error(msg);
}

async function api(method, p, body, headers) {
	const r = await fetch(URL + p, {
		method,
		headers: Object.assign({ Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
			headers || {}),
		body: body ? JSON.stringify(body) : undefined,
	});
	let json = null;
	try { json = await r.json(); } catch (e) { /* not JSON */ }
	return { status: r.status, json };
}

async function waitFor(what, fn, ms) {
	const end = Date.now() + (ms || 30000);
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error('timed out waiting for ' + what);
		await new Promise(r => setTimeout(r, 50));
	}
}

function git(...args) {
	return execFileSync('git', args, { cwd: WORK, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function latestPipeline(after, ref) {
	return waitFor('a pipeline after #' + after, async () => {
		const r = await api('GET', '/api/v1/projects/app/pipelines?per_page=5');
		const p = (r.json || []).find(x => x.id > after && (!ref || x.ref === ref));
		return p ? p.id : 0;
	});
}

// Count the JSON API requests a page makes (the event and log streams aside).
function countPolls(p) {
	p.__polls = [];
	p.on('request', r => {
		const u = new window_URL(r.url());
		if (u.pathname.startsWith('/api/v1/') && !u.pathname.startsWith('/api/v1/events') &&
		    !u.pathname.endsWith('/log/stream'))
			p.__polls.push(u.pathname + ' (from ' + (r.frame() ? r.frame().url() : '?') + ')');
	});
}
const window_URL = globalThis.URL;

async function eventsOpen(p) {
	return p.evaluate(() => !!window.cidreEvents && window.cidreEvents.readyState === 1);
}

async function statusText(page, sel) {
	return page.$eval(sel, el => el.textContent.trim()).catch(() => '');
}

(async () => {
	// ---- a developer of the project, who logs in with a password ----
	const made = await api('POST', '/api/v1/users', { login: 'dev', password: 'dev-password-1', name: 'Dev' });
	if (made.status !== 201) throw new Error('POST /api/v1/users: ' + made.status);
	const member = await api('PUT', '/api/v1/projects/app/members/dev', { role: 'developer' });
	if (member.status >= 300) throw new Error('PUT members/dev: ' + member.status);
	await api('PATCH', '/api/v1/projects/app', { public: false });

	const ctx = await chromium.launchPersistentContext(PROFILE, {
		executablePath: CHROMIUM,
		headless: true,
		args: FLAGS,
	});
	ctx.on('dialog', d => { dialogs.push(d.message()); d[dialogAnswer]().catch(() => {}); });
	ctx.on('page', p => p.on('dialog', d => { dialogs.push(d.message()); d[dialogAnswer]().catch(() => {}); }));
	const page = ctx.pages()[0] || await ctx.newPage();
	page.on('dialog', d => { dialogs.push(d.message()); d[dialogAnswer]().catch(() => {}); });
	page.setDefaultTimeout(30000);

	await step('log in', async () => {
		await page.goto(URL + '/p/app');
		assert(await page.textContent('h1') === '404', 'the project is hidden before logging in');
		await page.goto(URL + '/login?next=/p/app');
		await page.fill('input[name=login]', 'dev');
		await page.fill('input[name=password]', 'dev-password-1');
		await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
		assert(page.url() === URL + '/p/app', 'back where the login was asked: ' + page.url());
		assert((await page.textContent('header .who')).includes('dev'), 'the header names the user');
		const cookies = await ctx.cookies(URL);
		const c = cookies.find(x => x.name === 'cidre_session');
		assert(c && c.httpOnly && c.sameSite === 'Lax', 'an HttpOnly, SameSite=Lax session cookie');
	});

	let pid = 0, buildJob = 0, unitJob = 0, deployJob = 0;
	const pipePage = page;
	let jobPage = null;

	await step('a pushed commit shows its pipeline running, then passed, live (dashboard and pipeline page)', async () => {
		// the dashboard is open before the push: the pipeline appears without a reload
		const dash = await ctx.newPage();
		dash.setDefaultTimeout(30000);
		countPolls(dash);
		await dash.goto(`${URL}/`);
		await dash.evaluate(() => { window.__notReloaded = 1; });
		await dash.waitForFunction(() => !!window.cidreEvents && window.cidreEvents.readyState === 1);
		fs.writeFileSync(path.join(WORK, 'feature.txt'), 'hello\n');
		git('add', '.');
		git('-c', 'user.name=Mallory <b>bold</b>', '-c', 'user.email=m@example.invalid',
			'commit', '-q', '-m', '<img src=x onerror=alert(4)> feature');
		git('push', '-q', 'origin', 'HEAD:main');
		pid = await latestPipeline(0, 'main');
		const jobs = await waitFor('jobs', async () => {
			const r = await api('GET', `/api/v1/pipelines/${pid}/jobs`);
			return r.json && r.json.length === 3 ? r.json : null;
		});
		buildJob = jobs.find(j => j.name === EVIL).id;
		unitJob = jobs.find(j => j.name === 'unit').id;
		deployJob = jobs.find(j => j.name === 'deploy').id;
		await waitFor('the build job running', async () =>
			(await api('GET', `/api/v1/jobs/${buildJob}`)).json.status === 'running');

		await dash.waitForFunction(id => {
			const e = document.querySelector(`[data-pipeline="${id}"]`);
			return e && e.textContent === 'running';
		}, pid);
		await dash.waitForSelector(`a[href="/jobs/${buildJob}"]`);
		assert(await dash.evaluate(() => window.__notReloaded === 1), 'the new pipeline came without a reload');

		countPolls(pipePage);
		await pipePage.goto(`${URL}/pipelines/${pid}`);
		assert(await statusText(pipePage, `h1 [data-pipeline="${pid}"]`) === 'running', 'pipeline shown running');
		await pipePage.evaluate(() => { window.__notReloaded = 1; });

		jobPage = await ctx.newPage();
		jobPage.setDefaultTimeout(30000);
		countPolls(jobPage);
		await jobPage.goto(`${URL}/jobs/${buildJob}`);
		await jobPage.waitForFunction(() => document.getElementById('log').textContent.includes('waiting for the gate'));
		await jobPage.evaluate(() => { window.__notReloaded = 1; });

		await pipePage.waitForFunction(() => !!window.cidreEvents && window.cidreEvents.readyState === 1);
		await jobPage.waitForFunction(() => !!window.cidreEvents && window.cidreEvents.readyState === 1);

		// a running job's duration counts on, with no event: both pages
		for (const pg of [pipePage, jobPage]) {
			const t0 = await pg.$eval(`[data-dur-job="${buildJob}"]`, e => e.textContent);
			await pg.waitForFunction(([id, t]) => {
				const e = document.querySelector(`[data-dur-job="${id}"]`);
				return e && e.hasAttribute('data-run-ms') && e.textContent !== t &&
					/^[0-9.]+ (ms|s)$/.test(e.textContent);
			}, [buildJob, t0], { timeout: 5000 });
		}
		// and so does the pipeline's, its jobs' time so far, while one runs
		const p0 = await pipePage.$eval(`[data-duration="${pid}"]`, e => e.textContent);
		await pipePage.waitForFunction(([id, t]) => {
			const e = document.querySelector(`[data-duration="${id}"]`);
			return e.hasAttribute('data-run-ms') && e.textContent !== t &&
				/^[0-9.]+ (ms|s)$/.test(e.textContent);
		}, [pid, p0], { timeout: 5000 });
		// and the dashboard's row of it (no job cells there: the server
		// marked the row while a job of it runs)
		const d0 = await dash.$eval(`[data-duration="${pid}"]`, e => e.textContent);
		await dash.waitForFunction(([id, t]) => {
			const e = document.querySelector(`[data-duration="${id}"]`);
			return e && e.hasAttribute('data-run-ms') && e.textContent !== t &&
				/^[0-9.]+ (ms|s)$/.test(e.textContent);
		}, [pid, d0], { timeout: 5000 });

		fs.writeFileSync(GATE, 'open\n');
		await dash.waitForFunction(id =>
			document.querySelector(`[data-pipeline="${id}"]`).textContent === 'success', pid);
		// unit failed, allowed to: the row passed with warnings
		await dash.waitForFunction(id =>
			document.querySelector(`[data-pipeline="${id}"]`).classList.contains('warnings'), pid,
			{ timeout: 5000 });
		assert(await dash.evaluate(() => window.__notReloaded === 1), 'the dashboard was not reloaded');
		assert(await eventsOpen(dash), 'the dashboard follows an EventSource');
		assert(dash.__polls.length === 0, 'the dashboard polled the JSON API: ' + dash.__polls.join(' '));
		await dash.waitForFunction(id => {
			const e = document.querySelector(`[data-duration="${id}"]`);
			return e && !e.hasAttribute('data-run-ms') && /^[0-9.]+ (ms|s)$/.test(e.textContent);
		}, pid, { timeout: 5000 });
		await dash.close();
		await pipePage.waitForFunction(id =>
			document.querySelector(`h1 [data-pipeline="${id}"]`).textContent === 'success', pid);
		assert(await pipePage.evaluate(() => window.__notReloaded === 1), 'the pipeline page was not reloaded');
		// unit failed, allowed to: orange, not red; the pipeline passed with warnings
		const unitBadge = await pipePage.$eval(`td .st[data-job="${unitJob}"]`,
			e => [e.className, e.textContent, getComputedStyle(e).backgroundColor]);
		assert(unitBadge[0].includes('st-failed') && unitBadge[0].includes('allowed') &&
			unitBadge[1] === 'failed', 'the allowed failure\'s badge: ' + unitBadge.join(' '));
		const redBadge = await pipePage.evaluate(() => {
			const e = document.createElement('span');
			e.className = 'st st-failed';
			document.body.appendChild(e);
			const c = getComputedStyle(e).backgroundColor;
			e.remove();
			return c;
		});
		assert(unitBadge[2] !== redBadge, 'an allowed failure is not shown as a failure: ' + unitBadge[2]);
		await pipePage.waitForFunction(id => {
			const e = document.querySelector(`h1 [data-pipeline="${id}"]`);
			return e.classList.contains('warnings') && e.title === 'passed with warnings';
		}, pid, { timeout: 5000 });
		const nodeClass = await pipePage.$eval(`svg.graph g[data-job="${buildJob}"]`, g => g.getAttribute('class'));
		assert(nodeClass.includes('st-success'), 'the graph node turned green: ' + nodeClass);
		const dur = await pipePage.$eval(`[data-dur-job="${buildJob}"]`, e => e.textContent);
		assert(/^[0-9.]+ (ms|s)$/.test(dur), 'the job duration arrived: ' + dur);
		assert(!(await pipePage.$eval(`[data-dur-job="${buildJob}"]`, e => e.hasAttribute('data-run-ms'))),
			'the ended job\'s duration no longer counts on');
		assert(!(await pipePage.$eval('[data-duration]', e => e.hasAttribute('data-run-ms'))),
			'the ended pipeline\'s duration no longer counts on');
		assert(await eventsOpen(pipePage), 'the pipeline page follows an EventSource');
		assert(pipePage.__polls.length === 0, 'the pipeline page polled: ' + pipePage.__polls.join(' '));
	});

	await step('the job log follows live to its end, without a reload', async () => {
		await jobPage.waitForFunction(() => document.getElementById('log').textContent.includes('gate opened'));
		await jobPage.waitForFunction(id =>
			document.querySelector(`h1 [data-job="${id}"]`).textContent === 'success', buildJob);
		assert(await jobPage.evaluate(() => window.__notReloaded === 1), 'the job page was not reloaded');
		assert(jobPage.__polls.length === 0, 'the job page polled: ' + jobPage.__polls.join(' '));
		// lines that arrived live went through the script's renderer: inert too
		const log = await jobPage.textContent('#log');
		assert(log.includes('live <script>alert(6)</script>tail\tend'), 'the live line is text: ' + log.slice(-300));
		assert(!log.includes('\x1b'), 'no escape character reaches the page');
		assert(await jobPage.$$eval('#log script', a => a.length) === 0, 'no element from the live log');
		const sec = await jobPage.$$eval('#log details.sec', a => a.map(d => d.getAttribute('data-name')));
		assert(sec.includes('live'), 'the live section is a section: ' + sec);
		assert(await jobPage.$eval('#log details[data-name="live"]', d =>
			d.textContent.includes('alert(6)')), 'the live line is inside its section');
		assert(await jobPage.title() !== 'pwned', 'an OSC title sequence does not set the title');
		// 256 and 24-bit colours; the colour set before the hand-over goes on live
		const sgr = await jobPage.getAttribute('#log-end', 'data-sgr');
		assert(sgr === '38;2;255;0;0', 'the server hands over its colour state: ' + sgr);
		const before = await jobPage.$eval('#log span.l span.a', e => e.getAttribute('style') || '');
		const still = await jobPage.evaluate(() => {
			const sp = [...document.querySelectorAll('#log span.a')].find(e => e.textContent === 'still-red');
			return sp ? getComputedStyle(sp).color : 'none';
		});
		assert(still === 'rgb(255, 0, 0)', 'the live line keeps the 256-colour red: ' + still + ' ' + before);
		const tc = await jobPage.evaluate(() => {
			const sp = [...document.querySelectorAll('#log span.a')].find(e => e.textContent === 'truecolor');
			return sp ? getComputedStyle(sp).backgroundColor : 'none';
		});
		assert(tc === 'rgb(1, 2, 3)', 'a 24-bit background: ' + tc);
	});

	await step('malicious names, commit message and log lines render inert', async () => {
		await jobPage.goto(`${URL}/jobs/${buildJob}`);
		const h1 = await jobPage.textContent('h1');
		assert(h1.includes(EVIL), 'the job name is shown as text: ' + h1);
		const log = await jobPage.textContent('#log');
		assert(log.includes('<script>alert(2)</script>'), 'the log line is shown as text');
		assert(log.includes('visible-after-escapes'), 'text after dropped escapes is shown');
		assert(!log.includes('\x1b'), 'no escape character reaches the page');
		assert(await jobPage.$$eval('#log script, #log img', a => a.length) === 0, 'no element from the log');
		assert(await jobPage.title() !== 'pwned', 'an OSC title sequence does not set the title');
		const sec = await jobPage.$('#log details.sec summary');
		assert(sec && (await sec.textContent()).includes('<b>Preparing</b>'), 'the section header is text');
		await pipePage.goto(`${URL}/pipelines/${pid}`);
		const title = await pipePage.textContent('.commit .title');
		assert(title.includes('<img src=x onerror=alert(4)>'), 'the commit title is text: ' + title);
		assert(await pipePage.$$eval('.commit img', a => a.length) === 0, 'no img from the commit');
		await pipePage.goto(`${URL}/`);
		assert((await pipePage.textContent('main')).includes('onerror=alert(4)'), 'the dashboard shows the title as text');
		// a branch named with markup
		git('push', '-q', 'origin', 'HEAD:refs/heads/evil<script>alert(5)</script>');
		const bid = await latestPipeline(pid, 'evil<script>alert(5)</script>');
		await pipePage.goto(`${URL}/p/app`);
		assert((await pipePage.textContent('main')).includes('evil<script>alert(5)</script>'), 'the branch name is text');
		fs.writeFileSync(GATE, 'open\n');
		await api('POST', `/api/v1/pipelines/${bid}/cancel`);
		assert(dialogs.length === 0, 'no dialog opened: ' + dialogs.join(', '));
	});

	await step('a failed test opens with its message and history', async () => {
		await page.goto(`${URL}/jobs/${unitJob}`);
		assert((await page.textContent('#tests .totals')).includes('1 failed'), 'totals say one failed');
		const f = page.locator('details.failure', { hasText: 'bad_test' });
		assert(!(await f.locator('pre.message').isVisible()), 'the failure starts closed');
		await f.locator('summary').click();
		await f.locator('pre.message').waitFor({ state: 'visible' });
		assert((await f.locator('pre.message').textContent()).includes('expected 1, got 2'), 'the message shows');
		assert(await f.locator('.history a.run').count() >= 1, 'the test history shows');
	});

	await step('the artifacts folder view opens a subdirectory and downloads a file', async () => {
		await page.goto(`${URL}/jobs/${unitJob}`);
		await Promise.all([page.waitForNavigation(), page.click('#artifacts h2 a')]);
		assert(page.url() === `${URL}/jobs/${unitJob}/artifacts`, 'the folder view: ' + page.url());
		await Promise.all([page.waitForNavigation(), page.click(`a[href="/jobs/${unitJob}/artifacts/dist/"]`)]);
		assert(await page.$(`a[href="/api/v1/jobs/${unitJob}/artifacts/dist/top.txt"]`), 'dist/ lists top.txt');
		await Promise.all([page.waitForNavigation(), page.click(`a[href="/jobs/${unitJob}/artifacts/dist/sub/"]`)]);
		assert(page.url() === `${URL}/jobs/${unitJob}/artifacts/dist/sub/`, 'in dist/sub/: ' + page.url());
		const crumbs = await page.textContent('p.crumbs');
		assert(/artifacts \/ dist \/ sub \//.test(crumbs), 'the breadcrumb: ' + crumbs);
		const [dl] = await Promise.all([page.waitForEvent('download'),
			page.click('a[download][href$="/dist/sub/file.txt"]')]);
		const got = fs.readFileSync(await dl.path(), 'utf8');
		assert(got === 'nested-content', 'the downloaded file: ' + got);
		assert(dl.suggestedFilename() === 'file.txt', 'its name: ' + dl.suggestedFilename());
		// "Download all (.zip)": the whole set, one archive, named after the job
		const [zip] = await Promise.all([page.waitForEvent('download'),
			page.click(`a[href="/api/v1/jobs/${unitJob}/artifacts.zip"]`)]);
		const z = fs.readFileSync(await zip.path());
		assert(z.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04])), 'a ZIP archive');
		assert(z.includes('dist/sub/file.txt') && z.includes('nested-content'), 'it holds the nested file');
		assert(new RegExp(`-${unitJob}-artifacts\\.zip$`).test(zip.suggestedFilename()),
			'its name: ' + zip.suggestedFilename());
	});

	await step('a manual job is played from the pipeline page and runs; a forged post is refused', async () => {
		await page.goto(`${URL}/pipelines/${pid}`);
		const row = page.locator('tr', { has: page.locator(`a[href="/jobs/${deployJob}"]`) });
		await Promise.all([page.waitForNavigation(), row.locator('button.play').click()]);
		assert(page.url().endsWith(`/jobs/${deployJob}`), 'the play lands on the job: ' + page.url());
		await page.waitForFunction(id =>
			document.querySelector(`h1 [data-job="${id}"]`).textContent === 'success', deployJob);
		await page.waitForFunction(() => document.getElementById('log').textContent.includes('deployed by the test'));
		// the session's form posts need its CSRF token
		const forged = await ctx.request.post(`${URL}/jobs/${deployJob}/retry`, { form: { csrf: 'f'.repeat(64) } });
		assert(forged.status() === 403, 'a post without the CSRF token is refused: ' + forged.status());
	});

	await step('a non-member is refused', async () => {
		const r = await api('POST', '/api/v1/users', { login: 'outsider', password: 'outsider-password-1' });
		assert(r.status === 201, 'outsider created: ' + r.status);
		const other = await chromium.launchPersistentContext(PROFILE + '-outsider', {
			executablePath: CHROMIUM, headless: true, args: FLAGS,
		});
		try {
			const p = other.pages()[0] || await other.newPage();
			await p.goto(URL + '/login');
			await p.fill('input[name=login]', 'outsider');
			await p.fill('input[name=password]', 'outsider-password-1');
			await Promise.all([p.waitForNavigation(), p.click('form.login button')]);
			assert((await p.textContent('header .who')).includes('outsider'), 'the outsider is logged in');
			const resp = await p.goto(`${URL}/pipelines/${pid}`);
			assert(resp.status() === 404, 'the pipeline is not found for a non-member: ' + resp.status());
			const rp = await p.goto(`${URL}/p/app`);
			assert(rp.status() === 404, 'the project is not found: ' + rp.status());
			await p.goto(`${URL}/`);
			assert(!(await p.textContent('main')).includes('onerror=alert(4)'), 'the dashboard hides the project');
			const post = await other.request.post(`${URL}/pipelines/${pid}/retry`, { form: { csrf: 'x' } });
			assert(post.status() === 404, 'a form post to the hidden pipeline is 404: ' + post.status());
			const api2 = await other.request.get(`${URL}/api/v1/pipelines/${pid}`);
			assert(api2.status() === 404, 'the API hides it from the session too: ' + api2.status());
		} finally {
			await other.close();
		}
	});

	await step('a maintainer adds a secret variable on the settings page', async () => {
		const up = await api('PUT', '/api/v1/projects/app/members/dev', { role: 'maintainer' });
		assert(up.status === 200, 'dev made maintainer: ' + up.status);
		await page.goto(URL + '/p/app');
		await Promise.all([page.waitForNavigation(), page.click('a[href="/p/app/settings"]')]);
		assert(page.url() === URL + '/p/app/settings', 'the settings page: ' + page.url());
		await page.fill('#variables input[name=key]', 'BROWSER_SECRET');
		await page.fill('#variables textarea[name=value]', 'browser-secret-value');
		await page.check('#variables input[name=masked]');
		await Promise.all([page.waitForNavigation(), page.click('#variables form.add button')]);
		assert(page.url() === URL + '/p/app/settings?done=variable', 'back on the page: ' + page.url());
		assert((await statusText(page, '#settings-done')) === 'Variable saved.', 'confirmed');
		const row = await statusText(page, '#variables tbody');
		assert(row.includes('BROWSER_SECRET'), 'the key is listed: ' + row);
		assert(!(await page.content()).includes('browser-secret-value'), 'the value is not shown');
		const vars = await api('GET', '/api/v1/projects/app/variables');
		assert(vars.json.some(v => v.key === 'BROWSER_SECRET' && v.masked && !v.protected),
			'the API lists it masked: ' + JSON.stringify(vars.json));
	});

	await step('deleting a variable asks first; "cancel" keeps it', async () => {
		const del = 'form[action="/p/app/settings/variables/BROWSER_SECRET/delete"] button';
		const before = dialogs.length;
		await page.click(del);
		await page.waitForTimeout(300);
		const asked = dialogs.slice(before).join(', ');
		assert(asked.includes('Delete the variable BROWSER_SECRET?'), 'asked: ' + asked);
		assert(page.url() === URL + '/p/app/settings?done=variable', 'still on the page: ' + page.url());
		let vars = await api('GET', '/api/v1/projects/app/variables');
		assert(vars.json.some(v => v.key === 'BROWSER_SECRET'), 'kept: ' + JSON.stringify(vars.json));
		dialogAnswer = 'accept';
		try {
			await Promise.all([page.waitForNavigation(), page.click(del)]);
		} finally {
			dialogAnswer = 'dismiss';
		}
		vars = await api('GET', '/api/v1/projects/app/variables');
		assert(!vars.json.some(v => v.key === 'BROWSER_SECRET'), 'deleted: ' + JSON.stringify(vars.json));
	});

	await step('a schedule added on the project page runs at once with "Run now"', async () => {
		await page.goto(URL + '/p/app');
		await page.fill('form.schedule-add input[name=description]', 'browser nightly');
		await page.fill('form.schedule-add input[name=cron]', '30 2 * * 1-5');
		await Promise.all([page.waitForNavigation(), page.click('form.schedule-add button')]);
		assert(page.url() === URL + '/p/app#schedules', 'back on the project: ' + page.url());
		const sc = await api('GET', '/api/v1/projects/app/schedules');
		const s = sc.json.find(x => x.description === 'browser nightly');
		assert(s && s.cron === '30 2 * * 1-5' && s.cron_timezone === 'UTC' && s.active,
			'the API has it: ' + JSON.stringify(sc.json));
		const row = await statusText(page, `#schedule-${s.id}`);
		assert(row.includes('browser nightly') && row.includes('30 2 * * 1-5'), 'listed: ' + row);
		await Promise.all([page.waitForNavigation(),
			page.click(`form[action="/p/app/schedules/${s.id}/play"] button`)]);
		assert(/\/pipelines\/[0-9]+$/.test(page.url()), 'on the new pipeline: ' + page.url());
		const pid = page.url().split('/').pop();
		const pl = await api('GET', '/api/v1/pipelines/' + pid);
		assert(pl.json.source === 'schedule' && pl.json.schedule_id === s.id,
			'a schedule pipeline: ' + JSON.stringify(pl.json));
		await page.goto(URL + '/p/app');
		const before = dialogs.length;
		dialogAnswer = 'accept';
		try {
			await Promise.all([page.waitForNavigation(),
				page.click(`form[action="/p/app/schedules/${s.id}/delete"] button`)]);
		} finally {
			dialogAnswer = 'dismiss';
		}
		const asked = dialogs.slice(before).join(', ');
		assert(asked.includes('Delete the schedule 30 2 * * 1-5 of app?'), 'asked: ' + asked);
		const after = await api('GET', '/api/v1/projects/app/schedules');
		assert(!after.json.some(x => x.id === s.id), 'deleted: ' + JSON.stringify(after.json));
	});

	await step('a live log past the page\'s line limit loses its oldest lines, keeps its newest', async () => {
		// a branch whose one job waits for a gate, then prints 125,000 lines
		const gate = GATE + '-long';
		git('checkout', '-q', '-B', 'long-live', 'main');
		fs.writeFileSync(path.join(WORK, '.gitlab-ci.yml'),
			'long:\n  script:\n    - echo waiting\n' +
			`    - while [ ! -f "${gate}" ]; do sleep 0.05; done\n` +
			'    - seq -f "long line %g" 1 125000\n');
		git('add', '.gitlab-ci.yml');
		git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'long');
		git('push', '-q', 'origin', 'HEAD:long-live');
		git('checkout', '-q', 'main');
		const lp = await latestPipeline(0, 'long-live');
		const job = (await api('GET', `/api/v1/pipelines/${lp}/jobs`)).json[0].id;
		await waitFor('the long job running', async () =>
			(await api('GET', `/api/v1/jobs/${job}`)).json.status === 'running');
		const lpage = await ctx.newPage();
		// 125,000 lines through the page's live log: 4-6 s here, more on
		// a loaded machine (the suite runs two tests at once)
		lpage.setDefaultTimeout(150000);
		await lpage.goto(`${URL}/jobs/${job}`);
		await lpage.waitForFunction(() => document.getElementById('log').textContent.includes('waiting'));
		const max = parseInt(await lpage.getAttribute('#log-end', 'data-max-lines'), 10);
		assert(max === 100000, 'the page says how many lines it keeps: ' + max);
		fs.writeFileSync(gate, 'open\n');
		await lpage.waitForFunction(id =>
			document.querySelector(`h1 [data-job="${id}"]`).textContent === 'success', job);
		await lpage.waitForFunction(() => document.getElementById('log').textContent.includes('long line 125000'));
		const lines = await lpage.$$eval('#log span.l', a => a.length);
		assert(lines >= max && lines <= max + max / 10, 'lines kept on the page: ' + lines);
		assert(await lpage.$('#L1') === null, 'the first line was taken off');
		const last = await lpage.$eval('#log span.l:last-of-type', e => [e.id, e.textContent]);
		const whole = await (await fetch(`${URL}/api/v1/jobs/${job}/log`,
			{ headers: { Authorization: 'Bearer ' + TOKEN } })).text();
		const at = whole.split('\n').findIndex(l => l === 'long line 125000') + 1;
		assert(last[0] === 'L' + at && last[1].endsWith('long line 125000\n'),
			`the last line keeps its number (${at}): ` + last.join(' '));
		const note = await lpage.textContent('#log-trimmed');
		assert(note.includes('The oldest lines were taken off'), 'the page says so: ' + note);
		assert(await lpage.getAttribute('#log-trimmed a', 'href') === `/api/v1/jobs/${job}/log`,
			'with a link to the whole log');
		await lpage.close();
	});

	await step('without server-sent events a page polls: a running pipeline\'s row counts on, then ends', async () => {
		const gate = GATE + '-polled';
		git('checkout', '-q', '-B', 'polled', 'main');
		fs.writeFileSync(path.join(WORK, '.gitlab-ci.yml'),
			`wait:\n  script:\n    - while [ ! -f "${gate}" ]; do sleep 0.05; done\n`);
		git('add', '.gitlab-ci.yml');
		git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'polled');
		git('push', '-q', 'origin', 'HEAD:polled');
		git('checkout', '-q', 'main');
		const pp = await latestPipeline(0, 'polled');
		const job = (await api('GET', `/api/v1/pipelines/${pp}/jobs`)).json[0].id;
		await waitFor('the gated job running', async () =>
			(await api('GET', `/api/v1/jobs/${job}`)).json.status === 'running');
		const poller = await ctx.newPage();
		poller.setDefaultTimeout(30000);
		await poller.addInitScript(() => { window.EventSource = undefined; });
		countPolls(poller);
		await poller.goto(`${URL}/p/app?ref=polled`);
		assert(await poller.evaluate(() => !window.cidreEvents), 'no event stream');
		const d0 = await poller.$eval(`[data-duration="${pp}"]`, e => e.textContent);
		await poller.waitForFunction(([id, t]) => {
			const e = document.querySelector(`[data-duration="${id}"]`);
			return e.hasAttribute('data-run-ms') && e.textContent !== t;
		}, [pp, d0], { timeout: 5000 });
		fs.writeFileSync(gate, 'open\n');
		await poller.waitForFunction(id => {
			const s = document.querySelector(`table.list [data-pipeline="${id}"]`);
			const e = document.querySelector(`[data-duration="${id}"]`);
			return s.textContent === 'success' && !e.hasAttribute('data-run-ms');
		}, pp, { timeout: 15000 });
		const end = await api('GET', `/api/v1/pipelines/${pp}`);
		const shown = await poller.$eval(`[data-duration="${pp}"]`, e => e.textContent);
		await new Promise(r => setTimeout(r, 1500));
		assert(await poller.$eval(`[data-duration="${pp}"]`, e => e.textContent) === shown,
			'the ended pipeline\'s duration no longer counts on: ' + shown);
		assert(/^[0-9.]+ (ms|s)$/.test(shown) && end.json.duration !== null,
			'its duration, as the API has it: ' + shown + ' / ' + end.json.duration);
		assert(poller.__polls.some(u => u.startsWith(`/api/v1/pipelines/${pp}`)),
			'it polled the API: ' + poller.__polls.join(' '));
		await poller.close();
	});

	await ctx.close();
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
})().catch(e => {
	tap(false, 'the browser test ran', e);
	console.log(`1..${n}`);
	process.exit(1);
});
