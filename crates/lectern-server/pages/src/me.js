// Me: my points this year with a line per point and the tap behind it,
// my Tuesdays as a calendar, my study tasks, my awards and votes, my
// disputes, and filing a dispute from a line.
import { h, t, gql, when, campusDate, startOf, table, section, yearPicker } from './util.js';

const QUERY = `query Me($no: String!, $year: Int!, $from: DateTime!, $to: DateTime!, $dueFrom: NaiveDate!, $dueTo: NaiveDate!) {
  me { staffNo name unit }
  appraisal(staffNo: $no, year: $year) {
    total
    lines { points rule ruleVersion date subject positions taps { position kiosk venue kioskTime counter } }
  }
  attendance(staffNo: $no, from: $from, to: $to) {
    session { id kind title startsAt venue } status leave checkedInAt
  }
  studyRecord(staffNo: $no) { taskId state doneOn }
  studyTasks(dueFrom: $dueFrom, dueTo: $dueTo, first: 100) { nodes { id title due status } }
  nominations(year: $year) { categoryTitle level nominee votes status conferredOn }
  disputes { id year positions claim status filedOn reasoning }
}`;

export async function me(main, ctx) {
  const no = ctx.signedIn.staffNo;
  const { year } = ctx;
  const d = await gql(QUERY, {
    no, year, from: startOf(`${year}-01-01`), to: startOf(`${year + 1}-01-01`),
    dueFrom: `${year}-01-01`, dueTo: `${year}-12-31`,
  });
  const name = d.me ? d.me.name : no;
  main.append(h('div', { class: 'title' },
    h('h1', {}, t('me.title', { name })),
    yearPicker(ctx, (y) => ctx.go('me', [], { year: y }))));

  // The points.
  const canDispute = ctx.signedIn.role === 'staff';
  const lines = d.appraisal.lines;
  main.append(section(t('me.points'),
    h('p', { class: 'figure' }, h('span', { id: 'me-total' }, d.appraisal.total), ' ', t('points')),
    table([
      [t('col.date'), (l) => l.date],
      [t('col.points'), (l) => h('span', { class: l.points < 0 ? 'minus' : 'plus' }, l.points > 0 ? `+${l.points}` : l.points)],
      [t('col.rule'), (l) => t(`rule.${l.rule}`) + (l.ruleVersion ? ` (v${l.ruleVersion})` : '')],
      [t('col.subject'), (l) => h('span', {}, l.subject, l.taps.map((tap) => h('small', { class: 'tap' },
        t('me.tap', { kiosk: tap.kiosk, venue: tap.venue, at: when(tap.kioskTime), counter: tap.counter, position: tap.position }))))],
      [t('col.log'), (l) => l.positions.join(', ')],
      ...(canDispute ? [['', (l) => (l.points < 0 && l.positions.length ? disputeButton(year, l) : '')]] : []),
    ], lines, { id: 'me-lines' })));

  // The Tuesdays.
  main.append(section(t('me.tuesdays'), calendar(year, d.attendance)));

  // Study tasks.
  const record = new Map(d.studyRecord.map((r) => [r.taskId, r]));
  main.append(section(t('me.tasks'), table([
    [t('col.due'), (task) => task.due],
    [t('col.task'), (task) => task.title],
    [t('col.state'), (task) => {
      const r = record.get(task.id);
      if (r) return t(`task.${r.state}`) + (r.doneOn ? ` ${r.doneOn}` : '');
      return task.status === 'open' ? t('task.open') : t('task.none');
    }],
  ], d.studyTasks.nodes, { id: 'me-tasks' })));

  // Awards and votes.
  const mine = d.nominations.filter((n) => n.nominee === no);
  main.append(section(t('me.awards'), table([
    [t('col.award'), (n) => n.categoryTitle],
    [t('col.level'), (n) => t(`level.${n.level}`)],
    [t('col.votes'), (n) => n.votes],
    [t('col.status'), (n) => t(`nomination.${n.status}`) + (n.conferredOn ? ` ${n.conferredOn}` : '')],
  ], mine, { id: 'me-awards' })));

  main.append(section(t('me.disputes'), table([
    [t('col.filed'), (x) => x.filedOn],
    [t('year'), (x) => x.year],
    [t('col.claim'), (x) => x.claim],
    [t('col.status'), (x) => t(`dispute.${x.status}`)],
    [t('col.reasoning'), (x) => x.reasoning || ''],
  ], d.disputes, { id: 'me-disputes' })));
}

// A button that opens a form to dispute `line`.
function disputeButton(year, line) {
  const box = h('span', {});
  const open = h('button', { type: 'button', class: 'small', onclick: () => {
    open.remove();
    const claim = h('textarea', { required: true, rows: 3, placeholder: t('dispute.placeholder') });
    const status = h('span', { class: 'status' });
    const form = h('form', { class: 'dispute' }, claim, h('button', { type: 'submit' }, t('dispute.file')), status);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await gql(`mutation($year: Int!, $positions: [Int!]!, $claim: String!) {
          fileDispute(year: $year, positions: $positions, claim: $claim) { dispute { id status } } }`,
        { year, positions: line.positions, claim: claim.value });
        form.replaceWith(h('span', { class: 'ok' }, t('dispute.done', { id: r.fileDispute.dispute.id })));
      } catch (e) {
        status.textContent = e.message;
        status.className = 'error';
      }
    });
    box.append(form);
    claim.focus();
  } }, t('dispute.button'));
  box.append(open);
  return box;
}

// Every Tuesday of the year, coloured by my status at that day's
// centralized study (or another session that day).
function calendar(year, attendance) {
  const byDate = new Map();
  for (const a of attendance) {
    const day = campusDate(a.session.startsAt);
    const prev = byDate.get(day);
    if (!prev || a.session.kind === 'centralized_study') byDate.set(day, a);
  }
  const day = new Date(Date.UTC(year, 0, 1));
  while (day.getUTCDay() !== 2) day.setUTCDate(day.getUTCDate() + 1);
  const rows = new Map();
  const counts = {};
  for (; day.getUTCFullYear() === year; day.setUTCDate(day.getUTCDate() + 7)) {
    const date = day.toISOString().slice(0, 10);
    const a = byDate.get(date);
    const state = a ? a.status || (a.leave === 'approved' ? 'excused' : 'pending') : 'nosession';
    counts[state] = (counts[state] || 0) + 1;
    const month = day.getUTCMonth() + 1;
    if (!rows.has(month)) rows.set(month, []);
    rows.get(month).push(h('span', {
      class: `day ${state}`, 'data-date': date,
      title: `${date} ${a ? `${a.session.title} · ` : ''}${t(`status.${state}`)}${a?.checkedInAt ? ` ${when(a.checkedInAt)}` : ''}`,
    }, day.getUTCDate()));
  }
  const legend = ['present', 'late', 'excused', 'absent', 'pending', 'nosession']
    .map((s) => h('span', { class: `legend ${s}` }, `${t(`status.${s}`)} ${counts[s] || 0}`));
  return h('div', { id: 'me-calendar' },
    h('div', { class: 'legend-row' }, legend),
    [...rows].map(([m, days]) => h('div', { class: 'week-row' }, h('span', { class: 'month' }, t(`month.${m}`)), days)));
}
