// The campaign's pages: a sign-in bar, then Me, My unit, The campaign and
// Kiosks, each read from /graphql with the signed-in token. Plain DOM,
// one small helper per need; charts by Apache ECharts.
import { h, clear, t, lang, setLang, gql, token, setToken, setZone, GraphQLError } from './util.js';
import { me } from './me.js';
import { unit } from './unit.js';
import { campaign } from './campaign.js';
import { kiosks } from './kiosks.js';

// Which pages each role has (as `lectern token create --role` spells it).
const PAGES = [
  { id: 'me', title: 'nav.me', show: (s) => !!s.staffNo, render: me },
  { id: 'unit', title: 'nav.unit', show: (s) => ['union-chair', 'administrator', 'auditor'].includes(s.role), render: unit },
  { id: 'campaign', title: 'nav.campaign', show: (s) => ['administrator', 'auditor'].includes(s.role) || s.leadership, render: campaign },
  { id: 'kiosks', title: 'nav.kiosks', show: (s) => ['administrator', 'auditor'].includes(s.role), render: kiosks },
];

const root = document.getElementById('app');
let signedIn = null;

// The route: `#/page/arg?year=2008`.
function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [page, ...args] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page, args, params: new URLSearchParams(query || '') };
}

async function start() {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  document.title = `${t('title')} · Lectern`;
  clear(root);
  if (!token()) return signInForm();
  try {
    signedIn = (await gql(`{ signedIn { role staffNo unit leadership today timeZone years } }`)).signedIn;
  } catch (e) {
    if (e instanceof GraphQLError && e.code === 'UNAUTHENTICATED') {
      setToken('');
      return signInForm(e.message);
    }
    root.append(h('p', { class: 'error' }, e.message));
    return;
  }
  setZone(signedIn.timeZone);
  show();
}

function signInForm(problem) {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: t('signin.placeholder') });
  const form = h('form', { id: 'signin', class: 'card' },
    h('h1', {}, t('title')),
    h('p', {}, t('signin.intro')),
    h('label', {}, t('signin.token'), input),
    h('button', { type: 'submit' }, t('signin.button')),
    problem ? h('p', { class: 'error' }, problem) : null,
    langSwitch());
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    start();
  });
  root.append(form);
  input.focus();
}

function langSwitch() {
  const other = lang() === 'zh' ? 'en' : 'zh';
  const b = h('button', { type: 'button', class: 'link', id: 'lang' }, other === 'en' ? 'English' : '中文');
  b.addEventListener('click', () => {
    setLang(other);
    start();
  });
  return b;
}

async function show() {
  clear(root);
  const pages = PAGES.filter((p) => p.show(signedIn));
  const { page, args, params } = route();
  const current = pages.find((p) => p.id === page) || pages[0];
  const out = h('button', { type: 'button', class: 'link', id: 'signout' }, t('signout'));
  out.addEventListener('click', () => {
    setToken('');
    signedIn = null;
    history.replaceState(null, '', location.pathname);
    start();
  });
  const who = signedIn.staffNo ? `${signedIn.staffNo} · ${t(`role.${signedIn.role}`)}` : t(`role.${signedIn.role}`);
  root.append(h('header', {},
    h('strong', {}, t('title')),
    h('nav', {}, ...pages.map((p) => h('a', { href: `#/${p.id}`, class: p === current ? 'current' : '' }, t(p.title)))),
    h('span', { class: 'who', id: 'signed-in' }, who),
    langSwitch(), out));
  const main = h('main', { id: `page-${current ? current.id : 'none'}` });
  root.append(main);
  if (!current) {
    main.append(h('p', {}, t('nopages')));
    return;
  }
  const years = signedIn.years.length ? signedIn.years : [Number(signedIn.today.slice(0, 4))];
  const thisYear = Number(signedIn.today.slice(0, 4));
  const fallback = years.filter((y) => y <= thisYear).pop() ?? years[years.length - 1];
  const year = Number(params.get('year')) || fallback;
  const ctx = { signedIn, args, params, year, years, go };
  const started = performance.now();
  main.append(h('p', { class: 'loading' }, t('loading')));
  try {
    await current.render(main, ctx);
  } catch (e) {
    // A token revoked or expired meanwhile: sign in again.
    if (e instanceof GraphQLError && e.code === 'UNAUTHENTICATED') {
      setToken('');
      signedIn = null;
      clear(root);
      signInForm(e.message);
      return;
    }
    main.append(h('p', { class: 'error' }, e.message));
  } finally {
    main.querySelector('.loading')?.remove();
    main.dataset.loadedMs = String(Math.round(performance.now() - started));
    main.dataset.ready = 'true';
  }
}

function go(page, args = [], query = {}) {
  const q = new URLSearchParams(query).toString();
  location.hash = `#/${[page, ...args].map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`;
}

window.addEventListener('hashchange', () => signedIn && show());
start();
