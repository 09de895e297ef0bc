/* The handheld page: the station's tickets from the worker's local store,
 * and sign / note / finish / return / report through its outbox. Polls
 * /api/state; an action shows as pending until the dispatcher has it. */
'use strict';

(function () {
  var S = {
    token: localStorage.getItem('hotline.hh.token') || '',
    tab: 'open',
    data: null,
    open: null, /* ticket id in the detail view */
    busy: false
  };
  var $ = function (id) { return document.getElementById(id); };
  var STATUS = { triage: '待派', dispatched: '待签收', accepted: '办理中', resolved: '已办结',
    closed: '已关闭', merged: '已并单', cancelled: '已撤销' };
  var OPS = { sign: '签收', note: '备注', finish: '办结', return: '退单', create: '上报', extend: '延期' };
  var URG = { normal: '', urgent: '紧急', critical: '特急' };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function when(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    return d.toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', hour12: false });
  }

  function headers(json) {
    var h = {};
    if (S.token) h.Authorization = 'Bearer ' + S.token;
    if (json) h['Content-Type'] = 'application/json';
    return h;
  }

  function call(method, path, body) {
    return fetch(path, { method: method, headers: headers(!!body), body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store' }).then(function (r) {
      if (r.status === 401) {
        var t = prompt('此工作站需要令牌 (token)：');
        if (t) { S.token = t.trim(); localStorage.setItem('hotline.hh.token', S.token); }
        throw new Error('需要令牌');
      }
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || ('HTTP ' + r.status));
        return j;
      });
    });
  }

  function mine(t) { return S.data && t.lead === S.data.unit; }
  function isOpen(t) { return mine(t) && (t.status === 'dispatched' || t.status === 'accepted'); }

  /* ---- list ------------------------------------------------------------ */

  function card(t) {
    var li = el('li', 'card ' + (t.urgency || ''));
    li.dataset.no = t.no;
    li.dataset.id = t.id;
    li.dataset.status = t.status;
    var top = el('div', 'top');
    top.appendChild(el('span', 'no', t.no));
    var badges = el('span');
    if (t.pending && t.pending.length) {
      var p = el('span', 'badge pending', '待发送 ' + t.pending.map(function (o) { return OPS[o] || o; }).join('、'));
      badges.appendChild(p);
      badges.appendChild(document.createTextNode(' '));
    }
    badges.appendChild(el('span', 'badge ' + t.status, STATUS[t.status] || t.status));
    top.appendChild(badges);
    li.appendChild(top);
    li.appendChild(el('div', 'cat', (t.category_name || t.category) + (URG[t.urgency] ? ' · ' + URG[t.urgency] : '') +
      (mine(t) ? '' : ' · 协办')));
    li.appendChild(el('div', 'desc', t.title || t.description));
    var due = t.status === 'dispatched' ? t.sign_due : t.finish_due;
    if (due && (t.status === 'dispatched' || t.status === 'accepted')) {
      var late = new Date(due).getTime() < Date.now();
      li.appendChild(el('div', 'due' + (late ? ' late' : ''), (t.status === 'dispatched' ? '签收时限 ' : '办结时限 ') +
        when(due) + (late ? '（已超时）' : '')));
    }
    li.addEventListener('click', function () { show(t.id); });
    return li;
  }

  function renderList() {
    var d = S.data;
    var ul = $('tickets');
    ul.textContent = '';
    var list = d.tickets.filter(function (t) { return S.tab === 'all' || isOpen(t) || (t.pending && t.pending.length); });
    list.sort(function (a, b) {
      var oa = isOpen(a) ? 0 : 1, ob = isOpen(b) ? 0 : 1;
      if (oa !== ob) return oa - ob;
      return b.id - a.id;
    });
    list.forEach(function (t) { ul.appendChild(card(t)); });
    $('empty').hidden = list.length > 0;
    var rf = $('refused');
    rf.textContent = '';
    d.refused.slice(-3).forEach(function (a) {
      rf.appendChild(el('div', 'refusal', '未成功：' + (OPS[a.op] || a.op) + ' ' + (a.ref || '') + ' — ' + (a.message || a.code)));
    });
  }

  /* ---- detail ------------------------------------------------------------ */

  function find(id) {
    for (var i = 0; S.data && i < S.data.tickets.length; i++) if (S.data.tickets[i].id === id) return S.data.tickets[i];
    return null;
  }

  function kv(box, k, v) {
    if (!v) return;
    var p = el('div', 'kv');
    p.appendChild(el('b', null, k));
    p.appendChild(document.createTextNode(v));
    box.appendChild(p);
  }

  function renderDetail() {
    var t = find(S.open);
    var sec = $('detail');
    if (!t) { sec.hidden = true; return; }
    sec.dataset.no = t.no;
    sec.dataset.status = t.status;
    var b = $('detail-body');
    b.textContent = '';
    var box = el('div', 'detail');
    var h = el('h2', null, t.no + ' ');
    h.appendChild(el('span', 'badge ' + t.status, STATUS[t.status] || t.status));
    box.appendChild(h);
    kv(box, '类别', (t.category_name || t.category) + (URG[t.urgency] ? '（' + URG[t.urgency] + '）' : ''));
    var loc = t.location || {};
    kv(box, '地点', [loc.address, loc.cell].filter(Boolean).join(' · '));
    if (t.caller) kv(box, '来电人', [t.caller.name, t.caller.phone].filter(Boolean).join(' '));
    kv(box, '签收时限', t.status === 'dispatched' ? when(t.sign_due) : '');
    kv(box, '办结时限', when(t.finish_due));
    box.appendChild(el('div', 'text', t.description));
    if (t.result) kv(box, '办理结果', t.result);
    b.appendChild(box);

    var pend = $('pending');
    pend.hidden = !(t.pending && t.pending.length);
    /* the dispatcher has what was sent: say so */
    var msg = $('detail-msg');
    if (!pend.hidden && msg.dataset.sent) msg.dataset.seen = '1';
    if (pend.hidden && msg.dataset.sent && msg.dataset.seen) {
      var refusal = S.data.refused.filter(function (x) { return String(x.n) === msg.dataset.n; })[0];
      msg.className = refusal ? 'msg err' : 'msg';
      msg.textContent = refusal ? '未成功：' + msg.dataset.sent + ' — ' + (refusal.message || refusal.code)
        : '调度中心已确认：' + msg.dataset.sent;
      delete msg.dataset.sent;
      delete msg.dataset.seen;
    }
    pend.textContent = pend.hidden ? '' : '待发送：' + t.pending.map(function (o) { return OPS[o] || o; }).join('、') +
      (S.data.link.up ? '（发送中）' : '（离线，恢复连接后自动发送）');

    var acts = $('actions');
    acts.textContent = '';
    var ops = [];
    if (mine(t) && t.status === 'dispatched') ops = ['sign', 'return'];
    else if (mine(t) && t.status === 'accepted') ops = ['finish', 'note', 'return'];
    else if (t.status !== 'closed' && t.status !== 'merged' && t.status !== 'cancelled') ops = ['note'];
    ops.forEach(function (op) {
      var btn = el('button', null, OPS[op]);
      btn.type = 'button';
      btn.dataset.op = op;
      btn.addEventListener('click', function () { act(op, t); });
      acts.appendChild(btn);
    });
    $('text').hidden = $('text-label').hidden = ops.length === 0;
  }

  function show(id) {
    S.open = id;
    $('list-view').hidden = true;
    $('report').hidden = true;
    $('detail').hidden = false;
    $('detail-msg').textContent = '';
    $('text').value = '';
    renderDetail();
    window.scrollTo(0, 0);
  }

  function act(op, t) {
    var text = $('text').value.trim();
    var msg = $('detail-msg');
    if (op !== 'sign' && !text) {
      msg.className = 'msg err';
      msg.textContent = { note: '请填写备注', finish: '请填写办理结果', return: '请填写退单理由' }[op];
      $('text').focus();
      return;
    }
    call('POST', '/api/act', { op: op, ticket: t.id, text: text }).then(function (r) {
      msg.className = 'msg';
      msg.textContent = '已记录：' + OPS[op] + (r.link ? '，正在发送' : '（离线，恢复连接后发送）');
      msg.dataset.sent = OPS[op];
      msg.dataset.n = String(r.n);
      delete msg.dataset.seen;
      $('text').value = '';
      refresh();
    }).catch(function (e) {
      msg.className = 'msg err';
      msg.textContent = e.message;
    });
  }

  /* ---- report ------------------------------------------------------------ */

  function report(ev) {
    ev.preventDefault();
    var f = ev.target;
    var body = { category: f.category.value.trim(), description: f.description.value.trim(),
      cell: f.cell.value.trim(), address: f.address.value.trim() };
    call('POST', '/api/report', body).then(function (r) {
      $('report-msg').className = 'msg';
      $('report-msg').textContent = '已记录上报' + (r.link ? '，正在发送' : '（离线，恢复连接后发送）');
      f.description.value = '';
      refresh();
    }).catch(function (e) {
      $('report-msg').className = 'msg err';
      $('report-msg').textContent = e.message;
    });
  }

  /* ---- state --------------------------------------------------------------- */

  function render() {
    var d = S.data;
    $('unit').textContent = d.unit_name ? d.unit_name + '（' + d.unit + '）' : d.unit;
    document.title = (d.unit_name || d.unit) + ' · 网格工作站';
    var l = $('link');
    l.className = 'link ' + (d.link.up ? 'up' : 'down');
    l.dataset.state = d.link.up ? 'up' : 'down';
    var pending = d.actions.length;
    l.textContent = (d.link.up ? '在线' : '离线') + (pending ? ' · 待发送 ' + pending : '');
    $('offline').hidden = d.link.up;
    $('sync').textContent = '同步于 ' + when(d.link.last_sync);
    $('n-open').textContent = d.tickets.filter(isOpen).length || '';
    var cats = {};
    d.tickets.forEach(function (t) { cats[t.category] = t.category_name; });
    var dl = $('categories');
    dl.textContent = '';
    Object.keys(cats).forEach(function (c) {
      var o = el('option');
      o.value = c;
      o.label = cats[c] || c;
      dl.appendChild(o);
    });
    if (!$('list-view').hidden) renderList();
    if (!$('detail').hidden) renderDetail();
  }

  function refresh() {
    if (S.busy) return;
    S.busy = true;
    call('GET', '/api/state').then(function (d) {
      S.data = d;
      render();
    }).catch(function () {}).then(function () { S.busy = false; });
  }

  function tab(name) {
    S.tab = name;
    Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (b) {
      b.className = 'tab' + (b.dataset.tab === name ? ' on' : '');
    });
    $('detail').hidden = true;
    $('report').hidden = name !== 'report';
    $('list-view').hidden = name === 'report';
    if (S.data && name !== 'report') renderList();
  }

  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (b) {
      b.addEventListener('click', function () { tab(b.dataset.tab); });
    });
    $('back').addEventListener('click', function () { tab(S.tab === 'report' ? 'open' : S.tab); });
    $('report-form').addEventListener('submit', report);
    refresh();
    setInterval(refresh, 1500);
  });
})();
