// Browser tests in Debian's headless Chromium (playwright-core): the
// managers' dashboard sees a red alert appear live when a deadline passes,
// and a grid worker signs and finishes a ticket on the handheld page at
// 360 px. Starts the real binaries on loopback, prints TAP, saves
// screenshots under tests/out/. Every wait has a deadline; none is a sleep.
'use strict';

const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const http = require('http');

const root = path.resolve(__dirname, '..', '..');
const bin = process.env.HOTLINE_BIN || path.join(root, 'bin');
const outBase = process.env.HOTLINE_TEST_OUT || path.join(root, 'tests', 'out');
const out = path.join(outBase, 'browser-' + process.pid);
const shots = path.join(outBase, 'browser');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(out, { recursive: true });
fs.mkdirSync(shots, { recursive: true });

const children = [];
let n = 0;
let failed = 0;

function tap(ok, name, why) {
  n++;
  console.log((ok ? 'ok ' : 'not ok ') + n + ' - ' + name);
  if (!ok) {
    failed++;
    String(why || '').split('\n').forEach((l) => console.log('# ' + l));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

function start(name, args) {
  const log = fs.openSync(path.join(out, name + '.log'), 'a');
  const p = spawn(path.join(bin, name.replace(/-\d+$/, '')), args, { stdio: ['ignore', log, log] });
  children.push(p);
  return p;
}

function stop(p) {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill('SIGTERM');
  });
}

function request(port, method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: headers || {}, timeout: 5000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (body) req.write(body);
    req.end();
  });
}

// Poll until fn() resolves truthy or ms pass (a deadline, not a sleep).
async function until(what, ms, fn) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for ' + what + (last ? ': ' + last.message : ''));
}

function postForm(port, fields) {
  const body = new URLSearchParams(fields).toString();
  return request(port, 'POST', '/open311/v2/requests.json', body, {
    'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body)
  });
}

async function dispatcher(cfgText, db) {
  const cfg = path.join(out, 'config-' + db + '.json');
  fs.writeFileSync(cfg, cfgText);
  const ports = { front: await freePort(), events: await freePort(), http: await freePort() };
  const p = start('hotline-dispatcher', ['-c', cfg, '--db', path.join(out, db, 'hotline.db'),
    '--front', 'tcp://127.0.0.1:' + ports.front, '--events', 'tcp://127.0.0.1:' + ports.events,
    '--http', '127.0.0.1:' + ports.http]);
  await until('the dispatcher\'s HTTP server', 10000, async () => (await request(ports.http, 'GET', '/api/info')).status === 200);
  return { p, ports, cfg, db };
}

// The test city with a 2 s sign deadline for normal tickets.
function testConfig(sign) {
  const c = JSON.parse(fs.readFileSync(path.join(root, 'config', 'test-small.json'), 'utf8'));
  c.sla = { normal: { sign: sign, finish: '1h', warn: 0.8 } };
  return JSON.stringify(c, null, 1);
}

async function launch() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
    // playwright gives every launch a fresh, empty user data directory
  });
}

async function testDashboard(browser) {
  const d = await dispatcher(testConfig('2s'), 'dash');
  try {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('http://127.0.0.1:' + d.ports.http + '/');
    await page.waitForSelector('#link[data-state="up"]', { timeout: 10000 });
    tap(errors.length === 0, 'dashboard loads and its live stream connects', errors.join('\n'));

    // a citizen's request through Open311: routed to 甲镇, 2 s to sign
    const r = await postForm(d.ports.http, { service_code: 'env.noise', lat: '30.005', long: '100.005',
      description: '深夜广场舞音响扰民', api_key: 'test-key' });
    const no = JSON.parse(r.body)[0].service_request_id;
    const t0 = Date.now();
    await page.waitForSelector('#alerts li.alert.red[data-no="' + no + '"]', { timeout: 15000 });
    const dt = Date.now() - t0;
    tap(dt < 15000, 'a red alert for ' + no + ' appears live when its sign deadline passes (' + dt + ' ms)');
    const colour = await page.$eval('#alerts li.alert.red', (e) => getComputedStyle(e).borderLeftColor);
    tap(colour === 'rgb(255, 59, 59)', 'the red alert is red (' + colour + ')');
    await page.waitForFunction(() => Number(document.getElementById('n-overdue').textContent) >= 1 ||
      document.querySelector('#overdue .unit'), null, { timeout: 10000 });
    await page.click('#alerts li.alert.red .no');
    await page.waitForSelector('#ticket .ticket[data-no="' + no + '"] .timeline li', { timeout: 10000 });
    const timeline = await page.$eval('#ticket .timeline', (e) => e.textContent);
    tap(/红牌/.test(timeline) && /登记/.test(timeline), 'the lookup shows the ticket\'s timeline with its red flag', timeline);
    await page.waitForSelector('#overdue .unit', { timeout: 10000 });
    const unitText = await page.$eval('#overdue', (e) => e.textContent);
    tap(/甲镇/.test(unitText), 'the overdue panel lists the unit', unitText);
    await page.screenshot({ path: path.join(shots, 'dashboard.png') });
    tap(fs.existsSync(path.join(shots, 'dashboard.png')), 'dashboard screenshot saved (tests/out/browser/dashboard.png)');
    await page.close();
  } finally {
    await stop(d.p);
  }
}

async function testHandheld(browser) {
  const d = await dispatcher(testConfig('4h'), 'hand');
  const hport = await freePort();
  const w = start('hotline-worker', ['--unit', 't.a', '--connect', 'tcp://127.0.0.1:' + d.ports.front,
    '--db', path.join(out, 'worker-t.a.db'), '--http', '127.0.0.1:' + hport]);
  try {
    await until('the worker\'s page', 10000, async () => (await request(hport, 'GET', '/api/state')).status === 200);
    const r = await postForm(d.ports.http, { service_code: 'env.noise', lat: '30.005', long: '100.005',
      description: '小区门口夜市噪音，请尽快处理', first_name: '先生', last_name: '王', phone: '13900000001' });
    const no = JSON.parse(r.body)[0].service_request_id;

    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2,
      isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto('http://127.0.0.1:' + hport + '/');
    await page.waitForSelector('#link[data-state="up"]', { timeout: 10000 });
    const card = '#tickets li.card[data-no="' + no + '"]';
    await page.waitForSelector(card + '[data-status="dispatched"]', { timeout: 10000 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    tap(width <= 360 && errors.length === 0, 'the handheld page lists the new ticket at 360 px without sideways scrolling (' + width + ' px)', errors.join('\n'));
    await page.screenshot({ path: path.join(shots, 'handheld-list.png') });

    await page.click(card);
    await page.waitForSelector('#detail button[data-op="sign"]', { timeout: 5000 });
    await page.click('#detail button[data-op="sign"]');
    await page.waitForSelector('#detail[data-status="accepted"] button[data-op="finish"]', { timeout: 10000 });
    tap(true, 'sign on the handheld page: the ticket is accepted (签收)');
    await page.fill('#text', '已到现场劝导，摊主承诺22点前收摊');
    await page.screenshot({ path: path.join(shots, 'handheld-detail.png') });
    await page.click('#detail button[data-op="finish"]');
    await page.waitForSelector('#detail[data-status="resolved"]', { timeout: 10000 });
    const info = JSON.parse((await request(d.ports.http, 'GET', '/api/tickets/' + no)).body).ticket;
    tap(info.status === 'resolved' && /22点/.test(info.result), 'finish on the handheld page: the dispatcher has it resolved with the result', JSON.stringify(info));
    await page.screenshot({ path: path.join(shots, 'handheld-finished.png') });

    // the link goes down: an action waits as pending, and goes when it is back
    const r2 = await postForm(d.ports.http, { service_code: 'env.noise', lat: '30.005', long: '100.005',
      description: '广场音响声音过大', phone: '13900000002' });
    const no2 = JSON.parse(r2.body)[0].service_request_id;
    await page.click('#back');
    const card2 = '#tickets li.card[data-no="' + no2 + '"]';
    await page.waitForSelector(card2 + '[data-status="dispatched"]', { timeout: 10000 });
    await stop(d.p);
    await page.waitForSelector('#link[data-state="down"]', { timeout: 30000 });
    await page.click(card2);
    await page.click('#detail button[data-op="sign"]');
    await page.waitForSelector('#pending:not([hidden])', { timeout: 5000 });
    const pendingText = await page.$eval('#pending', (e) => e.textContent);
    await page.click('#back');
    await page.waitForSelector(card2 + ' .badge.pending', { timeout: 5000 });
    tap(/签收/.test(pendingText), 'offline: the sign waits as pending on the page (' + pendingText + ')');
    await page.screenshot({ path: path.join(shots, 'handheld-offline.png') });
    const d2 = await restart(d);
    await page.waitForSelector(card2 + '[data-status="accepted"]', { timeout: 40000 });
    const pendingLeft = await page.$$(card2 + ' .badge.pending');
    tap(pendingLeft.length === 0, 'back online: the pending sign is sent and the ticket is accepted');
    await ctx.close();
    d.p = d2.p;
  } finally {
    await stop(w);
    await stop(d.p);
  }
}

// Start the dispatcher again on the same ports and database.
async function restart(d) {
  const p = start('hotline-dispatcher', ['-c', d.cfg, '--db', path.join(out, d.db, 'hotline.db'),
    '--front', 'tcp://127.0.0.1:' + d.ports.front, '--events', 'tcp://127.0.0.1:' + d.ports.events,
    '--http', '127.0.0.1:' + d.ports.http]);
  await until('the dispatcher again', 10000, async () => (await request(d.ports.http, 'GET', '/api/info')).status === 200);
  return { p };
}

async function main() {
  let browser;
  try {
    browser = await launch();
  } catch (e) {
    tap(false, 'headless Chromium starts', e.message);
    console.log('1..' + n);
    process.exit(1);
  }
  const tests = [testDashboard, testHandheld];
  for (const t of tests) {
    try {
      await t(browser);
    } catch (e) {
      tap(false, t.name, e.stack || e.message);
    }
  }
  await browser.close();
  for (const c of children) await stop(c);
  console.log('1..' + n);
  process.exit(failed ? 1 : 0);
}

process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch (e) { /* gone */ } } });
main();
