// The GraphiQL console in headless Chromium against a running
// `lectern serve`: enter a token in the headers editor, run a query, see
// the result, and check that the page loaded nothing from elsewhere.
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

  // The headers editor is open by default; put the token in it.
  await page.waitForSelector('.graphiql-editor-tool .CodeMirror', { state: 'attached', timeout: 10000 });
  await page.evaluate((t) => {
    const cm = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]
      .map((e) => e.CodeMirror)
      .find((c) => c.getValue().includes('Authorization'));
    cm.setValue(JSON.stringify({ Authorization: `Bearer ${t}` }, null, 2));
  }, token);
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.result-window')?.innerText.includes('headCount'),
    null,
    { timeout: 30000 },
  );
  const result = await page.evaluate(() => document.querySelector('.result-window').innerText);
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  if (!result.includes('浏览器测试大学')) fail(`the result does not show the unit:\n${result}`);
  if (foreign.length) fail(`the console loaded from elsewhere: ${foreign.join(', ')}`);
  if (!failed) console.log('ok: GraphiQL ran a query with a bearer token and showed the result');
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
