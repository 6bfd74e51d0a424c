// The campaign: the navigation programme against its plan, attendance by
// unit ranked, Ethics Month, the Teachers' Day awards by level, and the
// disputes still open.
import { h, t, gql, pct, table, section, yearPicker, chart, COLOURS } from './util.js';

const KINDS = ['training_lecture', 'demonstration_class', 'teaching_competition'];
const LEVELS = ['national', 'provincial', 'city', 'university'];

export async function campaign(main, ctx) {
  const { year } = ctx;
  // The ranking reads every status of the year: asked for at the same time
  // as the rest.
  const [d, ranking] = await Promise.all([
    gql(`query($year: Int!) {
    programmes { id kind title plans { year kind target } report { year participants sessions { kind sessions } } }
    awardsRegister(year: $year) { level categoryTitle nomineeKind nominee nomineeName conferredOn }
    disputes { id person year claim filedOn status filingDeadline }
  }`, { year }),
    gql(`query($year: Int!) {
    unitRanking(year: $year) { unit name figures { present late absent excused attendancePermille } } }`, { year }),
  ]);
  main.append(h('div', { class: 'title' },
    h('h1', {}, t('campaign.title')),
    yearPicker(ctx, (y) => ctx.go('campaign', [], { year: y }))));

  // The navigation programme against its plan, and Ethics Month.
  // Programmes with a plan or sessions in the year (Ethics Month is a
  // programme of its own each September).
  const active = d.programmes.filter((x) => x.kind !== 'campaign'
    && (x.plans.some((p) => p.year === year) || x.report.some((r) => r.year === year)));
  if (!active.length) main.append(section(t('campaign.programmes'), h('p', { class: 'empty' }, t('none'))));
  for (const p of active) {
    const figures = p.report.find((r) => r.year === year) || { sessions: [], participants: 0 };
    const held = (kind) => figures.sessions.find((s) => s.kind === kind)?.sessions ?? 0;
    const plan = (kind) => p.plans.find((x) => x.year === year && x.kind === kind)?.target ?? null;
    const kinds = [...new Set([...p.plans.filter((x) => x.year === year).map((x) => x.kind), ...figures.sessions.map((s) => s.kind)])]
      .sort((a, b) => (KINDS.indexOf(a) + 1 || 99) - (KINDS.indexOf(b) + 1 || 99));
    const total = p.report.find((r) => r.year === null) || { sessions: [], participants: 0 };
    const heldAll = (kind) => total.sessions.find((x) => x.kind === kind)?.sessions ?? 0;
    const planAll = (kind) => p.plans.filter((x) => x.kind === kind).reduce((n, x) => n + x.target, 0);
    main.append(section(p.title,
      h('p', {}, t('campaign.participants', { year, n: figures.participants, total: total.participants })),
      table([
        [t('col.kind'), (k) => t(`kind.${k}`)],
        [t('col.plan'), (k) => plan(k) ?? '–'],
        [t('col.held'), (k) => held(k)],
        [t('col.planAll'), (k) => planAll(k) || '–'],
        [t('col.heldAll'), (k) => heldAll(k)],
      ], kinds, { id: `programme-${p.id}` }),
      kinds.length ? chart(`chart-${p.id}`, {
        legend: { top: 0 },
        xAxis: { type: 'category', data: kinds.map((k) => t(`kind.${k}`)) },
        yAxis: { type: 'value', minInterval: 1 },
        series: [
          { name: t('col.plan'), type: 'bar', color: COLOURS.plan, data: kinds.map((k) => plan(k) ?? 0) },
          { name: t('col.held'), type: 'bar', color: COLOURS.held, data: kinds.map(held) },
        ],
      }, 240) : null));
  }

  // Attendance by unit over the year, ranked (the units just below the top).
  const rows = ranking.unitRanking.map((u) => ({ id: u.unit, name: u.name, ...u.figures, permille: u.figures.attendancePermille }));
  // The chart shows the units somebody was expected at; the table all.
  const shown = rows.filter((u) => u.permille !== null).reverse();
  main.append(section(t('campaign.units', { year }),
    chart('chart-units', {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: { type: 'value', min: 0, max: 100, name: '%' },
      yAxis: { type: 'category', data: shown.map((u) => u.name) },
      series: [{ name: t('fig.attendance'), type: 'bar', color: COLOURS.attendance, data: shown.map((u) => (u.permille === null ? 0 : u.permille / 10)) }],
    }, Math.max(160, 28 * shown.length + 60)),
    table([
      [t('col.unit'), (u) => h('a', { href: `#/unit/${encodeURIComponent(u.id)}?year=${year}` }, u.name)],
      [t('fig.present'), (u) => u.present],
      [t('fig.late'), (u) => u.late],
      [t('fig.absent'), (u) => u.absent],
      [t('fig.excused'), (u) => u.excused],
      [t('fig.attendance'), (u) => pct(u.permille)],
    ], rows, { id: 'campaign-units' })));

  // The awards by level.
  const awards = d.awardsRegister;
  main.append(section(t('campaign.awards', { year }),
    h('dl', { class: 'figures', id: 'campaign-levels' }, LEVELS.map((l) =>
      h('div', { 'data-level': l }, h('dt', {}, t(`level.${l}`)), h('dd', {}, awards.filter((a) => a.level === l).length)))),
    table([
      [t('col.level'), (a) => t(`level.${a.level}`)],
      [t('col.award'), (a) => a.categoryTitle],
      [t('col.nominee'), (a) => a.nomineeName || a.nominee],
      [t('col.conferred'), (a) => a.conferredOn || ''],
    ], awards, { id: 'campaign-awards' })));

  // Disputes still open.
  const open = d.disputes.filter((x) => x.status === 'filed' || x.status === 'assigned');
  main.append(section(t('campaign.disputes', { n: open.length }), table([
    [t('col.filed'), (x) => x.filedOn],
    [t('col.person'), (x) => x.person],
    [t('year'), (x) => x.year],
    [t('col.deadline'), (x) => x.filingDeadline || t('dispute.yearopen')],
    [t('col.status'), (x) => t(`dispute.${x.status}`)],
    [t('col.claim'), (x) => x.claim],
  ], open, { id: 'campaign-disputes' })));
}
