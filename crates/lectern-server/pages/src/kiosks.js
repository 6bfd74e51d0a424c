// Kiosks: each hall's kiosk, when it was last heard from, its backlog,
// clock offset, its card reader, taps missing and its alarms (decided on the server's clock).
import { h, t, gql, when, table, section } from './util.js';

export async function kiosks(main) {
  const d = await gql(`{ kiosks {
    id venue enrolled version taps lastCounter missing gaps lastSeen clockSkewMs
    heartbeat { seenAt clockOffsetMs backlog version lastTap readerFault diskFault }
    alarms { kind value }
  } }`);
  const list = d.kiosks;
  const alarmed = list.filter((k) => k.alarms.length);
  main.append(h('div', { class: 'title' }, h('h1', {}, t('kiosks.title'))));
  main.append(h('dl', { class: 'figures', id: 'kiosk-summary' },
    h('div', {}, h('dt', {}, t('kiosks.count')), h('dd', {}, list.length)),
    h('div', {}, h('dt', {}, t('kiosks.alarmed')), h('dd', { class: alarmed.length ? 'minus' : '' }, alarmed.length)),
    h('div', {}, h('dt', {}, t('kiosks.missing')), h('dd', {}, list.reduce((n, k) => n + k.missing, 0)))));
  main.append(section(t('kiosks.list'), table([
    [t('col.kiosk'), (k) => h('span', {}, h('strong', {}, k.id), h('br'), h('small', {}, k.venue))],
    [t('col.heard'), (k) => when(latest(k.heartbeat?.seenAt, k.lastSeen))],
    [t('col.backlog'), (k) => (k.heartbeat ? k.heartbeat.backlog : '–')],
    [t('col.offset'), (k) => (k.heartbeat ? seconds(k.heartbeat.clockOffsetMs) : '–')],
    [t('col.reader'), (k) => (k.heartbeat ? k.heartbeat.readerFault || t('reader.ok') : '–')],
    [t('col.taps'), (k) => `${k.taps}${k.lastCounter ? ` (#${k.lastCounter})` : ''}`],
    [t('col.version'), (k) => k.heartbeat?.version || k.version || '–'],
    [t('col.alarms'), (k) => (k.alarms.length
      ? h('span', {}, k.alarms.map((a) => h('span', { class: 'badge absent', 'data-alarm': a.kind }, t(`alarm.${a.kind}`, { n: a.kind === 'silent' ? span(a.value) : a.value }))))
      : h('span', { class: 'badge present' }, t('alarm.none')))],
  ], list, { id: 'kiosk-list' })));
}

// Minutes as the largest whole unit: 45 min, 5 h, 12 d.
function span(minutes) {
  if (minutes < 120) return t('span.min', { n: minutes });
  if (minutes < 48 * 60) return t('span.h', { n: Math.floor(minutes / 60) });
  return t('span.d', { n: Math.floor(minutes / 1440) });
}

const latest = (...times) => times.filter(Boolean).sort().pop();

function seconds(ms) {
  const s = Math.round(ms / 100) / 10;
  return `${s > 0 ? '+' : ''}${s} s`;
}
