// Loads duet's GraphQL playground in headless chromium and runs `{ me { email } }` twice: once
// signed in by the `token` cookie, once with a bearer token pasted into the page. Prints one line
// per step; exits non-zero on the first failure.
//
// usage: node playground.mjs <base-url> <jwt> <expected-email>
import { chromium } from 'playwright-core';

const [base, token, email] = process.argv.slice(2);
if (!base || !token || !email) {
  console.error('usage: node playground.mjs <base-url> <jwt> <expected-email>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const QUERY = '{ me { email } }';
const timeout = 20000;

function fail(message) {
  throw new Error(message);
}

// Everything the page requested, so the test can prove nothing left this origin.
function watchRequests(page, seen) {
  page.on('request', (request) => seen.push(request.url()));
}

async function runQuery(page) {
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout });
  await page.evaluate((query) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
  }, QUERY);
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    (wanted) => {
      const editor = document.querySelector('.graphiql-response .CodeMirror');
      return editor && editor.CodeMirror.getValue().includes(wanted);
    },
    email,
    { timeout },
  );
  const text = await page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue());
  const answer = JSON.parse(text);
  if (answer?.data?.me?.email !== email) fail(`unexpected answer: ${text}`);
  return answer;
}

async function identity(page, wanted) {
  await page.waitForFunction(
    (w) => document.getElementById('duet-identity')?.textContent.includes(w),
    wanted,
    { timeout },
  );
  return page.evaluate(() => document.getElementById('duet-identity').textContent);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
const seen = [];
try {
  // 1. Signed in by cookie.
  const url = new URL(base);
  const withCookie = await browser.newContext();
  await withCookie.addCookies([{ name: 'token', value: token, domain: url.hostname, path: '/', httpOnly: true }]);
  const page = await withCookie.newPage();
  watchRequests(page, seen);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/playground`, { waitUntil: 'load' });
  console.log(`cookie identity: ${await identity(page, `Signed in as ${email}`)}`);
  console.log(`cookie answer: ${JSON.stringify(await runQuery(page))}`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);

  // 2. No cookie; a bearer token pasted into the page. Reached through GET /graphql as a browser
  // navigates to it.
  const anonymous = await browser.newContext();
  const page2 = await anonymous.newPage();
  watchRequests(page2, seen);
  await page2.goto(`${base}/graphql`, { waitUntil: 'load' });
  console.log(`anonymous identity: ${await identity(page2, 'Not signed in')}`);
  await page2.fill('#duet-token', token);
  await page2.click('#duet-token-use');
  console.log(`token identity: ${await identity(page2, `Signed in as ${email}`)}`);
  console.log(`token answer: ${JSON.stringify(await runQuery(page2))}`);

  const foreign = seen.filter((u) => !u.startsWith(`${url.origin}/`) && !u.startsWith('data:'));
  if (foreign.length) fail(`requests left the origin: ${foreign.join(', ')}`);
  console.log(`requests: ${seen.length}, all to ${url.origin}`);
  console.log('playground ok');
} catch (e) {
  console.error(`playground failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
