/* The managers' dashboard: live alerts from /api/stream (server-sent
 * events, fed by the dispatcher's event stream after each commit), overdue
 * tickets by unit, the assessment ranking, and a ticket lookup with its
 * timeline. Plain JavaScript, no build step. */
'use strict';

(function () {
  var state = {
    token: localStorage.getItem('hotline.token') || '',
    units: {},
    categories: {},
    tz: 'Asia/Shanghai',
    alerts: [],
    seen: {},
    es: null,
    overdueTimer: null,
    statsTimer: null
  };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function fmt(iso, withDate) {
    if (!iso) return '–';
    var d = new Date(iso);
    var opts = { timeZone: state.tz, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
    if (withDate) { opts.month = '2-digit'; opts.day = '2-digit'; }
    try { return d.toLocaleString('zh-CN', opts); } catch (e) { return d.toISOString(); }
  }

  function unitName(id) { return (id && state.units[id]) || id || '–'; }

  function api(path) {
    var headers = {};
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    return fetch(path, { headers: headers, cache: 'no-store' }).then(function (r) {
      if (r.status === 401) { askToken(); throw new Error('unauthorized'); }
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || ('HTTP ' + r.status));
        return j;
      });
    });
  }

  function askToken(msg) {
    $('login').hidden = false;
    $('login-error').textContent = msg || '';
    $('login-token').focus();
  }

  /* ---- clock and link ------------------------------------------------- */

  function tick() {
    $('clock').textContent = fmt(new Date().toISOString());
  }

  function setLink(up) {
    var l = $('link');
    l.className = 'link ' + (up ? 'up' : 'down');
    l.dataset.state = up ? 'up' : 'down';
    l.textContent = up ? '实时' : '重新连接中…';
  }

  /* ---- alerts --------------------------------------------------------- */

  var STAGE = { sign: '签收', finish: '办结' };

  function alertItem(a, fresh) {
    var li = el('li', 'alert ' + (a.level === 'red' ? 'red' : 'yellow') + (fresh ? ' new' : ''));
    li.dataset.no = a.ticket ? a.ticket.no : '';
    li.dataset.level = a.level;
    var head = el('div', 'head');
    head.appendChild(el('span', 'flag', a.level === 'red' ? '红牌' : '黄牌'));
    var no = el('span', 'no', a.ticket ? a.ticket.no : '');
    no.addEventListener('click', function () { lookup(a.ticket.no); });
    head.appendChild(no);
    head.appendChild(el('span', 'unit', unitName(a.unit)));
    li.appendChild(head);
    var what = (STAGE[a.stage] || a.stage) + (a.level === 'red' ? '超时' : '即将超时');
    if (a.ticket && state.categories[a.ticket.category]) what += ' · ' + state.categories[a.ticket.category];
    if (a.escalated_to) what += ' · 升级至 ' + unitName(a.escalated_to) + '（第' + a.tier + '级）';
    li.appendChild(el('div', 'meta', what + ' · 时限 ' + fmt(a.due, true) + ' · ' + fmt(a.time)));
    return li;
  }

  function renderTotals() {
    var since = Date.now() - 24 * 3600 * 1000, red = 0, yellow = 0;
    state.alerts.forEach(function (a) {
      if (new Date(a.time).getTime() < since) return;
      if (a.level === 'red') red++; else yellow++;
    });
    $('n-red').textContent = red;
    $('n-yellow').textContent = yellow;
  }

  function addAlert(a, fresh) {
    var key = a.seq || (a.ticket && a.ticket.no + a.level + a.stage + a.tier);
    if (state.seen[key]) return;
    state.seen[key] = true;
    state.alerts.unshift(a);
    var list = $('alerts');
    list.insertBefore(alertItem(a, fresh), list.firstChild);
    while (list.children.length > 60) list.removeChild(list.lastChild);
    $('alerts-empty').hidden = true;
    renderTotals();
  }

  function loadAlerts() {
    return api('/api/alerts?limit=40').then(function (j) {
      j.alerts.slice().reverse().forEach(function (a) { addAlert(a, false); });
      $('alerts-empty').hidden = state.alerts.length > 0;
    });
  }

  /* ---- overdue -------------------------------------------------------- */

  function loadOverdue() {
    return api('/api/overdue').then(function (j) {
      var box = $('overdue');
      box.textContent = '';
      $('n-overdue').textContent = j.total;
      $('overdue-empty').hidden = j.units.length > 0;
      var max = j.units.length ? j.units[0].count : 1;
      j.units.slice(0, 12).forEach(function (u) {
        var d = el('div', 'unit');
        d.dataset.unit = u.unit || '';
        var row = el('div', 'row');
        row.appendChild(el('span', 'name', u.name));
        var bar = el('span', 'bar');
        var fill = el('i');
        fill.style.width = Math.max(4, Math.round(100 * u.count / max)) + '%';
        bar.appendChild(fill);
        row.appendChild(bar);
        row.appendChild(el('span', 'count', u.count));
        d.appendChild(row);
        var ul = el('ul');
        u.tickets.slice(0, 3).forEach(function (t) {
          var li = el('li', null, t.no + ' ' + (t.category_name || t.category) +
            (t.stage === 'sign' ? ' · 未签收' : ' · 办结超期') + ' · ' + fmt(t.stage === 'sign' ? t.sign_due : t.finish_due, true));
          li.addEventListener('click', function () { lookup(t.no); });
          ul.appendChild(li);
        });
        d.appendChild(ul);
        box.appendChild(d);
      });
    });
  }

  function overdueSoon() {
    if (state.overdueTimer) return;
    state.overdueTimer = setTimeout(function () {
      state.overdueTimer = null;
      loadOverdue().catch(function () {});
    }, 1000);
  }

  function statsSoon() {
    if (state.statsTimer) return;
    state.statsTimer = setTimeout(function () {
      state.statsTimer = null;
      loadStats().catch(function () {});
    }, 3000);
  }

  /* ---- ranking -------------------------------------------------------- */

  function pct(x) { return x === null || x === undefined ? '–' : Math.round(x * 100) + '%'; }

  function loadStats() {
    return api('/api/stats').then(function (j) {
      var tb = $('rank').tBodies[0];
      tb.textContent = '';
      var note = $('rank-note');
      if (!j.available) {
        note.hidden = false;
        note.textContent = '考核数据暂不可用：' + (j.message || '');
        return;
      }
      note.hidden = j.units.length > 0;
      note.textContent = '尚无派单数据';
      j.units.slice().sort(function (a, b) { return a.rank - b.rank; }).slice(0, 20).forEach(function (u) {
        var tr = el('tr', u.score >= 85 ? 'high' : u.score >= 60 ? 'mid' : 'low');
        tr.appendChild(el('td', null, u.rank));
        tr.appendChild(el('td', null, unitName(u.unit) !== u.unit ? unitName(u.unit) : (u.name || u.unit)));
        tr.appendChild(el('td', 'score', u.score === null ? '–' : Number(u.score).toFixed(1)));
        tr.appendChild(el('td', null, pct(u.sign_rate)));
        tr.appendChild(el('td', null, pct(u.finish_rate)));
        tr.appendChild(el('td', null, pct(u.satisfaction)));
        var flags = el('td');
        flags.appendChild(el('span', 'r', u.red));
        flags.appendChild(document.createTextNode('/'));
        flags.appendChild(el('span', 'y', u.yellow));
        tr.appendChild(flags);
        tb.appendChild(tr);
      });
    });
  }

  /* ---- lookup --------------------------------------------------------- */

  var STATUS = { triage: '待派', dispatched: '待签收', accepted: '办理中', resolved: '已办结',
    closed: '已关闭', merged: '已并单', cancelled: '已撤销' };
  var KIND = { created: '登记', dispatched: '派单', accepted: '签收', noted: '备注', resolved: '办结',
    reopened: '重办', returned: '退单', closed: '关闭', merged: '并单', cancelled: '撤销', repeat: '重复来电',
    extension_requested: '申请延期', extension_decided: '延期审批', supervised: '督办', yellow: '黄牌', red: '红牌' };

  function lookup(no) {
    $('lookup-no').value = no;
    var box = $('ticket');
    box.textContent = '查询中…';
    api('/api/tickets/' + encodeURIComponent(no)).then(function (j) {
      var t = j.ticket;
      box.textContent = '';
      var d = el('div', 'ticket');
      d.dataset.no = t.no;
      var s = el('div', 'summary');
      s.appendChild(el('strong', null, t.no + ' '));
      s.appendChild(el('span', 'status', STATUS[t.status] || t.status));
      s.appendChild(document.createTextNode(' ' + (t.category_name || t.category) + ' · ' + unitName(t.lead) +
        (t.escalated_to ? ' · 已升级至 ' + unitName(t.escalated_to) : '')));
      d.appendChild(s);
      d.appendChild(el('div', 'desc', t.description));
      d.appendChild(el('div', 'desc', '签收时限 ' + fmt(t.sign_due, true) + ' · 办结时限 ' + fmt(t.finish_due, true)));
      var ol = el('ol', 'timeline');
      (t.events || []).forEach(function (e) {
        var li = el('li', e.kind === 'red' || e.kind === 'yellow' ? e.kind : null);
        li.appendChild(el('time', null, fmt(e.time, true)));
        li.appendChild(el('span', 'kind', (KIND[e.kind] || e.kind) + ' '));
        li.appendChild(document.createTextNode((e.actor || '') + (e.note ? ' — ' + e.note : '')));
        ol.appendChild(li);
      });
      d.appendChild(ol);
      box.appendChild(d);
    }).catch(function (e) {
      box.textContent = '';
      box.appendChild(el('p', 'error', e.message));
    });
  }

  /* ---- the live stream -------------------------------------------------- */

  function connect() {
    if (state.es) state.es.close();
    var url = '/api/stream' + (state.token ? '?access_token=' + encodeURIComponent(state.token) : '');
    var es = new EventSource(url);
    state.es = es;
    es.addEventListener('open', function () {
      setLink(true);
      /* whatever happened while the stream was down */
      loadAlerts().catch(function () {});
      overdueSoon();
    });
    es.addEventListener('error', function () { setLink(false); });
    es.addEventListener('alert', function (m) {
      var d = JSON.parse(m.data);
      addAlert(d.event, true);
      overdueSoon();
      statsSoon();
    });
    es.addEventListener('ticket', function () { overdueSoon(); statsSoon(); });
  }

  function start() {
    api('/api/info').then(function (info) {
      $('login').hidden = true;
      $('city').textContent = info.name;
      document.title = info.name + ' · 督办大屏';
      if (info.timezone) state.tz = info.timezone;
      info.units.forEach(function (u) { state.units[u.id] = u.name; });
      (info.categories || []).forEach(function (c) { state.categories[c.code] = c.name; });
      connect();
      loadOverdue().catch(function () {});
      loadStats().catch(function (e) { $('rank-note').hidden = false; $('rank-note').textContent = e.message; });
      setInterval(function () { loadOverdue().catch(function () {}); }, 15000);
      setInterval(function () { loadStats().catch(function () {}); }, 60000);
    }).catch(function (e) {
      if (e.message !== 'unauthorized') setTimeout(start, 3000);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    tick();
    setInterval(tick, 1000);
    $('lookup').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var no = $('lookup-no').value.trim();
      if (no) lookup(no);
    });
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      state.token = $('login-token').value.trim();
      localStorage.setItem('hotline.token', state.token);
      start();
    });
    start();
  });
})();
