// What every page uses: building elements, the two languages, the API
// call, dates on the campus clock, tables, the year picker and charts.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import { TEXT } from './text.js';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

// The token is kept under the same key as the GraphiQL console's, so
// signing in to one signs in to both.
const TOKEN = 'lectern.token';
const LANG = 'lectern.lang';

export const token = () => localStorage.getItem(TOKEN) || '';
export const setToken = (v) => (v ? localStorage.setItem(TOKEN, v) : localStorage.removeItem(TOKEN));
export const lang = () => (localStorage.getItem(LANG) === 'en' ? 'en' : 'zh');
export const setLang = (v) => localStorage.setItem(LANG, v);

// The text of `key` in the current language; `{name}` is filled from `vars`.
export function t(key, vars = {}) {
  const entry = TEXT[key];
  const text = entry ? entry[lang() === 'zh' ? 0 : 1] : key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

// An element: `h('a', { href, class }, 'text', child, [more])`.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const clear = (el) => {
  while (el.firstChild) el.firstChild.remove();
};

export class GraphQLError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

// Runs a query or mutation with the signed-in token; the first error's
// message (the server names the offending value) is thrown.
export async function gql(query, variables = {}) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token()}` },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new GraphQLError(t('error.http', { status: res.status }), 'HTTP');
  }
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new GraphQLError(e.message, e.extensions?.code);
  }
  return body.data;
}

let zone = 'Asia/Shanghai';
export const setZone = (z) => {
  zone = z;
};
const locale = () => (lang() === 'zh' ? 'zh-CN' : 'en-GB');

// A moment (RFC 3339) as a date and time on the campus clock.
export function when(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(locale(), {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  });
}

// The campus date (YYYY-MM-DD) of a moment.
export function campusDate(iso) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(iso));
  return parts;
}

// The start of a campus date as a UTC moment (the campus has no DST:
// the offset of noon that day is used).
export function startOf(date) {
  const noon = new Date(`${date}T12:00:00Z`);
  const shown = new Date(noon.toLocaleString('en-US', { timeZone: zone }));
  const offset = shown - new Date(noon.toLocaleString('en-US', { timeZone: 'UTC' }));
  return new Date(new Date(`${date}T00:00:00Z`) - offset).toISOString();
}

export const pct = (permille) => (permille === null || permille === undefined ? '–' : `${(permille / 10).toFixed(1)}%`);

// A table: `columns` are [heading, row => cell]; `id` names it for tests.
export function table(columns, rows, attrs = {}) {
  if (!rows.length) return h('p', { class: 'empty', ...attrs }, t('none'));
  return h('div', { class: 'scroll' }, h('table', attrs,
    h('thead', {}, h('tr', {}, columns.map(([head]) => h('th', {}, head)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(r))))))));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// The year picker: moves the page to another year.
export function yearPicker(ctx, onPick) {
  const select = h('select', { id: 'year', 'aria-label': t('year') },
    ctx.years.map((y) => h('option', { value: y, selected: y === ctx.year }, y)));
  select.addEventListener('change', () => onPick(Number(select.value)));
  return h('label', { class: 'picker' }, t('year'), ' ', select);
}

// A chart in a new element: `option` is ECharts'. It follows the element's
// size (a phone turned sideways redraws it).
export function chart(id, option, height = 280) {
  const el = h('div', { class: 'chart', id, style: `height:${height}px` });
  queueMicrotask(() => {
    const c = echarts.init(el, null, { renderer: 'svg' });
    c.setOption({ animation: false, tooltip: { trigger: 'axis' }, grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true }, ...option });
    new ResizeObserver(() => c.resize()).observe(el);
  });
  return el;
}

// The charts' colours, as the stylesheet's.
export const COLOURS = { attendance: '#1f6fb2', absent: '#c62828', late: '#ef8f00', plan: '#9aa3af', held: '#2e7d32' };

export const months = () => Array.from({ length: 12 }, (_, i) => t(`month.${i + 1}`));
