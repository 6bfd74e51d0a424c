// The GraphiQL console in headless Chromium against a running
// `lectern serve`: it opens clean with the schema loaded, a query without
// a token is refused, signing in with the token field runs it, the browser
// keeps the token across a reload and forgets it on sign-out, and the page
// loads nothing from elsewhere.
//
//   node browser-test.mjs http://127.0.0.1:PORT TOKEN
//
// CHROMIUM overrides the browser (default /usr/bin/chromium); SCREENSHOT
// names a PNG file to save the console in.
import { chromium } from 'playwright-core';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node browser-test.mjs BASE_URL TOKEN');
  process.exit(2);
}

// A unit to find, written through the API itself.
const seed = await fetch(`${base}/graphql`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
  body: JSON.stringify({
    query: 'mutation { establishUnit(id: "uni", name: "浏览器测试大学", kind: university) { position } }',
  }),
}).then((r) => r.json());
if (seed.errors) {
  console.error('seeding failed:', JSON.stringify(seed.errors));
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
let failed = false;
const fail = (message) => {
  console.error(`FAIL: ${message}`);
  failed = true;
};
try {
  const page = await browser.newPage();
  const foreign = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  await page.goto(`${base}/graphiql`);
  await page.waitForSelector('.graphiql-execute-button', { timeout: 30000 });
  const resultText = () => page.evaluate(() => document.querySelector('.result-window')?.innerText ?? '');

  // It opens clean: nothing in the result pane, and the schema loads
  // without a token (the Docs pane lists the root types).
  // (An empty pane holds a zero-width space.)
  if ((await resultText()).replace(/[\s\u200b]/g, '')) fail(`the console opened with a result:\n${await resultText()}`);
  await page.click('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
  await page.waitForFunction(
    () => /Root Types/.test(document.querySelector('.graphiql-doc-explorer')?.innerText ?? ''),
    null,
    { timeout: 30000 },
  ).catch(async () => {
    const docs = await page.evaluate(() => document.querySelector('.graphiql-doc-explorer')?.innerText);
    fail(`the Docs pane did not load the schema: ${docs}`);
  });

  // Run before signing in: refused, saying how to sign in.
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.result-window')?.innerText.includes('UNAUTHENTICATED'),
    null,
    { timeout: 30000 },
  );

  // Sign in with the token field, run again: the unit is shown.
  await page.fill('#lectern-token', token);
  await page.click('#lectern-signin button[type=submit]');
  await page.waitForSelector('#lectern-signed-in', { timeout: 10000 });
  const runAndShow = async () => {
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      () => document.querySelector('.result-window')?.innerText.includes('headCount'),
      null,
      { timeout: 30000 },
    );
    return resultText();
  };
  let result = await runAndShow();
  if (!result.includes('浏览器测试大学')) fail(`the result does not show the unit:\n${result}`);
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });

  // The browser keeps the token: after a reload the console is signed in.
  await page.reload();
  await page.waitForSelector('#lectern-signed-in', { timeout: 30000 });
  await page.waitForSelector('.graphiql-execute-button', { timeout: 30000 });
  result = await runAndShow();
  if (!result.includes('浏览器测试大学')) fail(`after a reload the result does not show the unit:\n${result}`);

  // Signing out forgets it.
  await page.click('#lectern-signin button');
  await page.waitForSelector('#lectern-token', { timeout: 10000 });
  const kept = await page.evaluate(() => window.localStorage.getItem('lectern.token'));
  if (kept) fail('signing out left the token in the browser');
  if (foreign.length) fail(`the console loaded from elsewhere: ${foreign.join(', ')}`);
  if (!failed) console.log('ok: GraphiQL opened clean, loaded the schema, signed in with the token field and showed the result');
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
