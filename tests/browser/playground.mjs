// Loads duet's GraphQL playground in headless chromium and checks what a person sees: once the
// page has loaded (GraphiQL has fetched the schema) no error is shown, neither in the response
// pane nor in the docs explorer; the docs explorer lists the root types and `Query`'s fields; and
// `{ me { email } }` runs twice, once signed in by the `token` cookie, once with a bearer token
// pasted into the page. Given a chat, a subscription runs too (with the cookie, then with the
// pasted token): `messageStream` of reply `a2` while this script starts that reply with
// `POST /api/chat/completions`, until the response pane shows the finished text. Prints one line
// per step; exits non-zero on the first failure.
//
// usage: node playground.mjs <base-url> <jwt> <expected-email> [<chat-id> <model> <expected-reply>]
// With PLAYGROUND_SHOTS=<dir>, a screenshot of each step is written there (on failure too).
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, token, email, chatId, model, reply] = process.argv.slice(2);
if (!base || !token || !email) {
  console.error('usage: node playground.mjs <base-url> <jwt> <expected-email>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const QUERY = '{ me { email } }';
const timeout = 20000;
const shots = process.env.PLAYGROUND_SHOTS;
if (shots) mkdirSync(shots, { recursive: true });

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

// Runs `messageStream` of reply `a2` of the chat, starts that reply when `start` (a turn answering
// `a1`), and waits for the response pane to show the finished reply.
async function runSubscription(page, start) {
  const query = `subscription { messageStream(chatId: "${chatId}", messageId: "a2") { kind content done } }`;
  await page.evaluate((q) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q);
  }, query);
  await page.click('.graphiql-execute-button');
  if (start) {
    // Whether the subscription is listening before the reply starts or only after it is stored,
    // it ends with the finished reply.
    const res = await fetch(`${base}/api/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model, stream: true, chat_id: chatId, id: 'a2', messages: [],
        user_message: { id: 'u2', parentId: 'a1', content: 'Say hello' },
      }),
    });
    const body = await res.text();
    if (!res.ok) fail(`the completion failed: ${res.status} ${body}`);
  }
  await page.waitForFunction(
    () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('"DONE"'),
    null,
    { timeout },
  );
  const text = await page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue());
  const answer = JSON.parse(text);
  if (answer?.data?.messageStream?.content !== reply) fail(`unexpected subscription answer: ${text}`);
  return answer;
}

async function screenshot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

// GraphiQL 4 fetches the schema on load; a failure shows as the response pane's text and as the
// docs explorer's "Error fetching schema" (GraphiQL 4 has no toasts). Opens the docs explorer
// from the sidebar, waits for it to show the schema or an error, and fails on any error shown.
async function loadedWithoutError(page, label) {
  await page.click('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]', { timeout });
  await page.waitForSelector(
    '.graphiql-doc-explorer-content .graphiql-doc-explorer-root-type, .graphiql-doc-explorer-content .graphiql-doc-explorer-error',
    { timeout },
  );
  await page.waitForSelector('.graphiql-response .CodeMirror', { timeout });
  const shown = () =>
    page.evaluate(() => ({
      docs: document.querySelector('.graphiql-doc-explorer-error')?.textContent ?? '',
      response: document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue().trim(),
    }));
  let seen = await shown();
  if (seen.docs && !seen.response) {
    // The response pane takes the error once its editor is ready; show what the person reads.
    await page
      .waitForFunction(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue().trim(), null, {
        timeout: 5000,
      })
      .catch(() => {});
    seen = await shown();
  }
  await screenshot(page, `${label}-loaded`);
  if (seen.docs || seen.response) {
    fail(
      `${label}: on load the playground shows an error: docs explorer: ${seen.docs || '(none)'}; ` +
        `response pane: ${seen.response.replace(/\s+/g, ' ') || '(empty)'}`,
    );
  }
  console.log(`${label} on load: no error in the response pane or the docs explorer`);
}

// The docs explorer (open, at the schema's root): the root types, then `Query` and its fields.
async function docsExplorer(page) {
  const roots = await page.$$eval('.graphiql-doc-explorer-content .graphiql-doc-explorer-root-type', (spans) =>
    spans.map((s) => `${s.textContent}: ${s.parentElement.querySelector('.graphiql-doc-explorer-type-name')?.textContent}`),
  );
  console.log(`docs explorer: root types: ${roots.join(', ')}`);
  await page
    .locator('.graphiql-doc-explorer-content div:has(> .graphiql-doc-explorer-root-type) > a.graphiql-doc-explorer-type-name', {
      hasText: /^Query$/,
    })
    .click({ timeout });
  await page.waitForFunction(
    () => document.querySelector('.graphiql-doc-explorer-title')?.textContent === 'Query',
    null,
    { timeout },
  );
  const fields = await page.$$eval(
    '.graphiql-doc-explorer-content .graphiql-doc-explorer-item .graphiql-doc-explorer-field-name',
    (links) => links.map((a) => a.textContent),
  );
  await screenshot(page, 'docs-query');
  if (!fields.length) fail('the docs explorer lists no fields of Query');
  console.log(`docs explorer: Query fields: ${fields.join(', ')}`);
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
let current = null;
try {
  // 1. Signed in by cookie.
  const url = new URL(base);
  const withCookie = await browser.newContext();
  await withCookie.addCookies([{ name: 'token', value: token, domain: url.hostname, path: '/', httpOnly: true }]);
  const page = await withCookie.newPage();
  current = page;
  watchRequests(page, seen);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/playground`, { waitUntil: 'load' });
  console.log(`cookie identity: ${await identity(page, `Signed in as ${email}`)}`);
  await loadedWithoutError(page, 'cookie');
  await docsExplorer(page);
  console.log(`cookie answer: ${JSON.stringify(await runQuery(page))}`);
  await screenshot(page, 'cookie-answer');
  if (chatId) {
    console.log(`cookie subscription: ${JSON.stringify(await runSubscription(page, true))}`);
    await screenshot(page, 'cookie-subscription');
  }
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);

  // 2. No cookie; a bearer token pasted into the page. Reached through GET /graphql as a browser
  // navigates to it.
  const anonymous = await browser.newContext();
  const page2 = await anonymous.newPage();
  current = page2;
  watchRequests(page2, seen);
  page2.on('pageerror', (e) => errors.push(String(e)));
  await page2.goto(`${base}/graphql`, { waitUntil: 'load' });
  console.log(`anonymous identity: ${await identity(page2, 'Not signed in')}`);
  await loadedWithoutError(page2, 'anonymous');
  await page2.fill('#duet-token', token);
  await page2.click('#duet-token-use');
  console.log(`token identity: ${await identity(page2, `Signed in as ${email}`)}`);
  console.log(`token answer: ${JSON.stringify(await runQuery(page2))}`);
  await screenshot(page2, 'token-answer');
  if (chatId) {
    console.log(`token subscription: ${JSON.stringify(await runSubscription(page2, false))}`);
    await screenshot(page2, 'token-subscription');
  }
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);

  const foreign = seen.filter((u) => !u.startsWith(`${url.origin}/`) && !u.startsWith('data:'));
  if (foreign.length) fail(`requests left the origin: ${foreign.join(', ')}`);
  console.log(`requests: ${seen.length}, all to ${url.origin}`);
  console.log('playground ok');
} catch (e) {
  console.error(`playground failed: ${e.message}`);
  process.exitCode = 1;
  if (current) await screenshot(current, 'failure').catch(() => {});
} finally {
  await browser.close();
}
