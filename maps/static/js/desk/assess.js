/* The case page's 研判 panel (ES module, used by case.js): the record of assessments, whether dispatch waits for a
 * 议事 decision (and the meetings on the case), and — when the user may assess now — the form: kind, 诉求清单 (the
 * one the category suggests preselected), level, the required reason, 重难点 / 信访 marks, 议事 first. */

import { api, errorHtml, esc, LANG, when } from '/static/js/desk/api.js';

const W = {
  zh: { title: '研判', none: '尚未研判', kind: '研判类型', list: '诉求清单', level: '处理层级', reason: '理由(必填)',
    key_case: '重难点', petition: '信访', needs_meeting: '需先议事(居民协商后再派遣)', submit: '提交研判',
    waits: '待议事决定：议事会作出决定前不能派遣', meetings: '议事会议', by: '研判人',
    kinds: { comprehensive: '综合研判', special: '专题研判' },
    levels: { grid: '网格', community: '社区', department: '街道·部门' }, topic: '议题', follow_up: '后续',
    empty_reason: '请填写理由', done: '已研判' },
  en: { title: 'Assessment (研判)', none: 'Not assessed', kind: 'Kind', list: 'Demand list', level: 'Level',
    reason: 'Reason (required)', key_case: 'Hard case (重难点)', petition: 'Petition (信访)',
    needs_meeting: 'Deliberate first (dispatch after the residents agree)', submit: 'Assess',
    waits: 'Waits for a meeting\'s decision: it cannot be dispatched before', meetings: 'Meetings', by: 'By',
    kinds: { comprehensive: 'Comprehensive', special: 'Special' },
    levels: { grid: 'Grid', community: 'Community', department: 'Subdistrict · departments' }, topic: 'topic',
    follow_up: 'follow-up', empty_reason: 'Please give a reason', done: 'Assessed' },
}[LANG === 'en' ? 'en' : 'zh'];

const listName = (l) => (LANG === 'en' ? l.en : l.zh);

function recordHtml(a) {
  const items = a.history.map((h) => `<li><strong>${esc(W.kinds[h.kind] || h.kind)}</strong> · ${esc(h.demand_list_name || h.demand_list)}
    · ${esc(W.levels[h.level] || h.level)}${h.key_case ? ` · <span class="badge">${esc(W.key_case)}</span>` : ''}${h.petition ? ` · <span class="badge">${esc(W.petition)}</span>` : ''}${h.needs_meeting ? ` · <span class="badge">${esc(W.needs_meeting)}</span>` : ''}
    <br><span class="muted">${esc(when(h.at))} · ${esc(W.by)} ${esc(h.actor || '')}</span><br>${esc(h.reason)}</li>`).join('');
  const meetings = a.meetings.map((m) => `<li><a href="/desk/meetings/${encodeURIComponent(m.number)}?lang=${LANG}">${esc(m.number)}</a>
    ${esc(m.topic)} (${esc(m.role === 'follow_up' ? W.follow_up : W.topic)})</li>`).join('');
  return `${a.waits_for_meeting ? `<p class="warn" id="waits-meeting">${esc(W.waits)}</p>` : ''}
    ${items ? `<ol class="assessments">${items}</ol>` : `<p class="muted">${esc(W.none)}</p>`}
    ${meetings ? `<h4>${esc(W.meetings)}</h4><ul>${meetings}</ul>` : ''}`;
}

function formHtml(f) {
  const opt = (v, text, on) => `<option value="${esc(v)}"${on ? ' selected' : ''}>${esc(text)}</option>`;
  const box = (name) => `<label class="choice"><input type="checkbox" name="${name}"> ${esc(W[name])}</label>`;
  return `<form id="assess-form" class="assess-form" novalidate>
    <label>${esc(W.kind)} <select name="kind">${f.kinds.map((k) => opt(k, W.kinds[k] || k, k === 'comprehensive')).join('')}</select></label>
    <label>${esc(W.list)} <select name="demand_list">${f.lists.map((l) => opt(l.code, listName(l), l.code === f.suggested)).join('')}</select></label>
    <label>${esc(W.level)} <select name="level">${f.levels.map((l) => opt(l, W.levels[l] || l, l === f.level)).join('')}</select></label>
    <label class="wide">${esc(W.reason)} <textarea name="reason" rows="2" maxlength="2000" aria-required="true"></textarea></label>
    ${box('key_case')} ${box('petition')} ${box('needs_meeting')}
    <button type="submit" class="primary">${esc(W.submit)}</button></form>`;
}

/** Fill #assessment from the case file ``d``; ``done(what)`` reloads the page's case after a 研判. */
export function renderAssessment(d, done) {
  const card = document.getElementById('assessment-card');
  const box = document.getElementById('assessment');
  const a = d.assessment;
  if (!card || !box || !a) return;
  card.hidden = !(a.history.length || a.form || a.meetings.length);
  box.innerHTML = `<h3>${esc(W.title)}</h3>${recordHtml(a)}${a.form ? formHtml(a.form) : ''}`;
  const form = document.getElementById('assess-form');
  if (!form) return;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    form.querySelectorAll('.field-error').forEach((e) => e.remove());
    const el = form.elements;
    const body = { kind: el.kind.value, demand_list: el.demand_list.value, level: el.level.value,
      reason: el.reason.value.trim(), key_case: el.key_case.checked, petition: el.petition.checked,
      needs_meeting: el.needs_meeting.checked };
    try {
      await api(`/api/v1/cases/${d.id}/assessments`, { method: 'POST', body });
      done(W.done);
    } catch (e) {
      const target = (e.field && el[e.field]) || el.reason;
      const div = document.createElement('div');
      div.className = 'field-error';
      div.innerHTML = errorHtml(e);
      target.closest('label').appendChild(div);
      target.setAttribute('aria-invalid', 'true');
      target.focus();
    }
  });
}
