// My unit: the month's figures with attendance over the year, who was
// absent or late, study tasks outstanding, the monthly report (a draft
// from the figures, submitted from here), the unit's points and why, and
// the sub-units side by side.
import { h, t, gql, when, startOf, pct, table, section, yearPicker, chart, months, COLOURS } from './util.js';

const FIGURES = 'figures { sessionsHeld present late absent excused tasksDone attendancePermille } pointsLost';

export async function unit(main, ctx) {
  const { year } = ctx;
  let id = ctx.args[0] || ctx.signedIn.unit;
  if (!id) id = (await gql('{ units { id } }')).units[0]?.id;
  if (!id) {
    main.append(h('p', {}, t('unit.none')));
    return;
  }
  const monthly = Array.from({ length: 12 }, (_, i) =>
    `m${i + 1}: unitMonth(unit: $unit, year: $year, month: ${i + 1}) { ${FIGURES} }`).join('\n');
  const d = await gql(`query($unit: String!, $year: Int!) {
    unit(id: $unit) { id name headCount }
    units(under: $unit) { id name parent headCount dissolved }
    ${monthly}
    unitAppraisal(unit: $unit, year: $year) { total lines { points rule date subject } }
    proxyFlags(unit: $unit, status: open, first: 50) { key rule people taps { kiosk venue readAt staffNo } }
  }`, { unit: id, year });
  const year12 = Array.from({ length: 12 }, (_, i) => d[`m${i + 1}`]);
  // The month shown: asked for, or the latest with anything in it.
  const busy = year12.map((m, i) => [m, i + 1]).filter(([m]) => m.figures.sessionsHeld + m.figures.present + m.figures.late + m.figures.absent > 0);
  const today = ctx.signedIn.today;
  const month = Number(ctx.params.get('month'))
    || (year === Number(today.slice(0, 4)) ? Number(today.slice(5, 7)) : busy.length ? busy[busy.length - 1][1] : 12);
  const pick = (y, m) => ctx.go('unit', [id], { year: y, month: m });

  const monthSelect = h('select', { id: 'month', 'aria-label': t('month') },
    months().map((name, i) => h('option', { value: i + 1, selected: i + 1 === month }, name)));
  monthSelect.addEventListener('change', () => pick(year, monthSelect.value));
  main.append(h('div', { class: 'title' },
    h('h1', {}, d.unit.name, ' ', h('small', {}, `${d.unit.id} · ${t('unit.heads', { n: d.unit.headCount })}`)),
    yearPicker(ctx, (y) => pick(y, month)), h('label', { class: 'picker' }, t('month'), ' ', monthSelect)));

  const from = startOf(`${year}-${String(month).padStart(2, '0')}-01`);
  const next = month === 12 ? `${year + 1}-01-01` : `${year}-${String(month + 1).padStart(2, '0')}-01`;
  const m = await gql(`query($unit: String!, $year: Int!, $month: Int!, $from: DateTime!, $to: DateTime!) {
    unitMonth(unit: $unit, year: $year, month: $month) {
      ${FIGURES} studyCheck { checkedOn checker notes } report { chair narrative submittedOn }
    }
    sessions(unit: $unit, from: $from, to: $to, first: 100) { nodes { id title kind startsAt status present late absent excused } }
    studyTasks(status: open, first: 50) { nodes { id title due completed completedLate waived } }
  }`, { unit: id, year, month, from, to: startOf(next) });
  const f = m.unitMonth.figures;

  // The month's figures and the year's attendance.
  main.append(section(t('unit.month', { year, month: months()[month - 1] }),
    h('dl', { class: 'figures', id: 'unit-figures' },
      fig('sessionsHeld', f.sessionsHeld), fig('present', f.present), fig('late', f.late),
      fig('absent', f.absent), fig('excused', f.excused), fig('tasksDone', f.tasksDone),
      fig('attendance', pct(f.attendancePermille)), fig('pointsLost', m.unitMonth.pointsLost)),
    chart('unit-chart', {
      legend: { top: 0 },
      xAxis: { type: 'category', data: months() },
      yAxis: [{ type: 'value', name: `${t('fig.attendance')} %`, min: 0, max: 100 }, { type: 'value', name: t('unit.times'), minInterval: 1 }],
      series: [
        { name: t('fig.attendance'), type: 'line', color: COLOURS.attendance, data: year12.map((x) => (x.figures.attendancePermille === null ? null : x.figures.attendancePermille / 10)) },
        { name: t('fig.absent'), type: 'bar', yAxisIndex: 1, color: COLOURS.absent, data: year12.map((x) => x.figures.absent) },
        { name: t('fig.late'), type: 'bar', yAxisIndex: 1, color: COLOURS.late, data: year12.map((x) => x.figures.late) },
      ],
    })));

  // Who was absent or late at the unit's sessions this month.
  const missed = m.sessions.nodes.filter((s) => s.absent + s.late > 0);
  const rosters = await Promise.all(missed.map((s) => roster(s.id)));
  const who = missed.flatMap((s, i) => rosters[i]
    .filter((r) => r.status === 'absent' || r.status === 'late')
    .map((r) => ({ ...r, session: s })));
  main.append(section(t('unit.missing'), table([
    [t('col.session'), (r) => `${when(r.session.startsAt)} ${r.session.title}`],
    [t('col.person'), (r) => `${r.name || ''} ${r.staffNo}`],
    [t('col.status'), (r) => h('span', { class: `badge ${r.status}` }, t(`status.${r.status}`))],
  ], who, { id: 'unit-missing' })));

  main.append(section(t('unit.tasks'), table([
    [t('col.due'), (x) => x.due],
    [t('col.task'), (x) => x.title],
    [t('col.done'), (x) => x.completed + x.completedLate],
    [t('col.waived'), (x) => x.waived],
  ], m.studyTasks.nodes, { id: 'unit-tasks' })));

  main.append(section(t('unit.report'), report(id, year, month, m.unitMonth, ctx)));

  main.append(section(t('unit.points', { year }),
    h('p', { class: 'figure' }, h('span', { id: 'unit-total' }, d.unitAppraisal.total), ' ', t('points')),
    table([
      [t('col.date'), (l) => l.date],
      [t('col.points'), (l) => h('span', { class: l.points < 0 ? 'minus' : 'plus' }, l.points > 0 ? `+${l.points}` : l.points)],
      [t('col.rule'), (l) => t(`rule.${l.rule}`)],
      [t('col.subject'), (l) => l.subject],
    ], d.unitAppraisal.lines.filter((l) => l.rule !== 'base' || l.points), { id: 'unit-lines' })));

  main.append(section(t('unit.flags'), flags(d.proxyFlags, ctx)));

  // The sub-units' month side by side.
  const children = d.units.filter((u) => u.parent === id && !u.dissolved);
  if (children.length) {
    const c = await gql(`query($year: Int!, $month: Int!) {
      ${children.map((u, i) => `c${i}: unitMonth(unit: ${JSON.stringify(u.id)}, year: $year, month: $month) { ${FIGURES} }`).join('\n')}
    }`, { year, month });
    const rows = children.map((u, i) => ({ ...u, m: c[`c${i}`] }));
    main.append(section(t('unit.subunits'), table([
      [t('col.unit'), (u) => h('a', { href: `#/unit/${encodeURIComponent(u.id)}?year=${year}&month=${month}` }, u.name)],
      [t('fig.present'), (u) => u.m.figures.present],
      [t('fig.late'), (u) => u.m.figures.late],
      [t('fig.absent'), (u) => u.m.figures.absent],
      [t('fig.attendance'), (u) => pct(u.m.figures.attendancePermille)],
      [t('fig.pointsLost'), (u) => u.m.pointsLost],
    ], rows, { id: 'unit-subunits' })));
  }
}

// A session's whole roster, a hundred at a time.
async function roster(id) {
  const all = [];
  let after = null;
  for (;;) {
    const page = (await gql(`query($id: UUID!, $after: String) {
      session(id: $id) { roster(first: 100, after: $after) { nodes { staffNo name status } pageInfo { hasNextPage endCursor } } } }`,
    { id, after })).session.roster;
    all.push(...page.nodes);
    if (!page.pageInfo.hasNextPage) return all;
    after = page.pageInfo.endCursor;
  }
}

// A flag's first taps shown; the rest are counted (the API has them all).
const SHOWN_TAPS = 4;

// Open flags on taps about the unit's people: the evidence, and for a
// chair or an administrator a reason and the two verdicts.
function flags(open, ctx) {
  const canReview = ['union-chair', 'administrator'].includes(ctx.signedIn.role);
  return table([
    [t('col.rule'), (f) => t(`flag.${f.rule}`)],
    [t('col.person'), (f) => f.people.join(', ')],
    [t('col.evidence'), (f) => h('ul', { class: 'taps', 'data-taps': f.taps.length },
      f.taps.slice(0, SHOWN_TAPS).map((x) => h('li', {}, `${when(x.readAt)} ${x.venue} (${x.kiosk}) ${x.staffNo || ''}`)),
      f.taps.length > SHOWN_TAPS ? h('li', { class: 'more' }, t('flag.more', { n: f.taps.length - SHOWN_TAPS })) : null)],
    [t('col.review'), (f) => (canReview ? review(f, ctx) : '')],
  ], open, { id: 'unit-flags' });
}

function review(f, ctx) {
  const reason = h('input', { type: 'text', 'aria-label': t('flag.reason'), placeholder: t('flag.reason') });
  const status = h('span', { class: 'status' });
  const send = (verdict) => async () => {
    try {
      await gql(`mutation($key: String!, $verdict: FlagVerdict!, $reason: String!) {
        reviewProxyFlag(key: $key, verdict: $verdict, reason: $reason) { status } }`,
      { key: f.key, verdict, reason: reason.value });
      ctx.go('unit', ctx.args, { ...Object.fromEntries(ctx.params), reviewed: Date.now() });
    } catch (e) {
      status.textContent = e.message;
      status.className = 'error';
    }
  };
  return h('div', { class: 'review', 'data-flag': f.key }, reason,
    h('button', { type: 'button', class: 'dismiss', onclick: send('dismissed') }, t('flag.dismiss')),
    h('button', { type: 'button', class: 'confirm', onclick: send('confirmed') }, t('flag.confirm')),
    status);
}

function fig(key, value) {
  return h('div', { 'data-figure': key }, h('dt', {}, t(`fig.${key}`)), h('dd', {}, value));
}

// The month's report: as submitted, or a draft from the figures to edit
// and submit.
function report(unit, year, month, um, ctx) {
  if (um.report) {
    return h('div', { id: 'unit-report' },
      h('p', {}, t('unit.submitted', { on: um.report.submittedOn, chair: um.report.chair })),
      h('blockquote', {}, um.report.narrative));
  }
  const f = um.figures;
  const draft = t('unit.draft', {
    year, month, held: f.sessionsHeld, present: f.present, late: f.late, absent: f.absent,
    excused: f.excused, rate: pct(f.attendancePermille), tasks: f.tasksDone, lost: um.pointsLost,
  });
  const text = h('textarea', { id: 'report-text', rows: 4 }, draft);
  const status = h('p', { class: 'status' });
  const canSubmit = ['union-chair', 'administrator'].includes(ctx.signedIn.role);
  const form = h('form', { id: 'unit-report' }, h('p', {}, t('unit.notsubmitted')), text,
    canSubmit ? h('button', { type: 'submit' }, t('unit.submit')) : null, status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await gql(`mutation($unit: String!, $year: Int!, $month: Int!, $narrative: String!) {
        submitMonthlyReport(unit: $unit, year: $year, month: $month, narrative: $narrative) { position } }`,
      { unit, year, month, narrative: text.value });
      ctx.go('unit', [unit], { year, month, submitted: Date.now() });
    } catch (e) {
      status.textContent = e.message;
      status.className = 'error';
    }
  });
  return form;
}
