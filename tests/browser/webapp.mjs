// Drives the reference's own built web app (Open WebUI 0.12.4, served by duet from
// FRONTEND_BUILD_DIR) in headless chromium, as a person would: the first sign-up makes the admin;
// two chats made through the API are listed in the sidebar; one opens with its messages; a
// message typed into a new chat gets its reply streamed in, the stop button goes away, and the
// reply is still there after a reload; a reply stopped halfway keeps its text so far, also after
// a reload; a chat is renamed, another deleted; the admin signs out.
//
// Each step prints `PASS <step>: <what was seen>` or `FAIL <step>: <why>` and leaves a screenshot
// (`NN-<step>.png`) in WEBAPP_SHOTS when set. A step that fails does not stop the ones that do not
// need it. Every answer the page got with status 404 or 5xx is printed as `BAD <status> <method>
// <url> (during <step>)`. The last line is `N passed, N failed`; the exit code is non-zero on any failure or bad
// answer.
//
// usage: node webapp.mjs <base-url> <name> <email> <password> <message> <reply>
//   <message> is typed into a new chat; <reply> is the text the fake model streams back (the
//   test's upstream is deterministic).
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, name, email, password, typedMessage, reply] = process.argv.slice(2);
// What is typed into the chat whose reply is stopped.
const stopMessage = 'Start a reply, then stop it.';
if (!base || !name || !email || !password || !typedMessage || !reply) {
  console.error('usage: node webapp.mjs <base-url> <name> <email> <password> <message> <reply>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.WEBAPP_SHOTS;
if (shots) mkdirSync(shots, { recursive: true });
const timeout = 30000;

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
const page = await context.newPage();
page.setDefaultTimeout(timeout);

// Every 404 or 5xx the page was answered with, in order, with the step it came in.
const bad = [];
let current = 'start';
page.on('response', (response) => {
  const status = response.status();
  if (status === 404 || status >= 500) {
    bad.push(`${status} ${response.request().method()} ${response.url()} (during ${current})`);
  }
});
page.on('pageerror', (error) => console.log(`page error: ${error.message}`));

const results = [];
let shot = 0;
const done = new Set();

function fail(message) {
  throw new Error(message);
}

async function screenshot(label) {
  shot += 1;
  if (shots) {
    const file = `${shots}/${String(shot).padStart(2, '0')}-${label}.png`;
    await page.screenshot({ path: file }).catch(() => {});
  }
}

// Runs one step; `needs` lists the steps it cannot do without.
async function step(label, needs, run) {
  const missing = needs.filter((n) => !done.has(n));
  if (missing.length) {
    results.push([label, false]);
    console.log(`FAIL ${label}: not tried, it needs ${missing.join(', ')}`);
    return;
  }
  current = label;
  try {
    const seen = await run();
    done.add(label);
    results.push([label, true]);
    console.log(`PASS ${label}: ${seen}`);
    await screenshot(label);
  } catch (error) {
    results.push([label, false]);
    console.log(`FAIL ${label}: ${error.message.split('\n')[0]}`);
    await screenshot(`${label}-failed`);
  }
}

// The page's visible text, spaces collapsed.
async function visibleText() {
  return (await page.innerText('body')).replace(/\s+/g, ' ');
}

async function waitForText(text, what) {
  await page
    .getByText(text, { exact: false })
    .first()
    .waitFor({ state: 'visible' })
    .catch(() => fail(`${what}: "${text}" is not shown`));
}

// The JSON API, from outside the page (what a script or another client does).
let token = '';
async function api(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// A chat with one question and its answer, in the web app's own shape.
function chatWith(title, question, answer, model) {
  const q = crypto.randomUUID();
  const a = crypto.randomUUID();
  const ts = Math.floor(Date.now() / 1000);
  const messages = {
    [q]: { id: q, parentId: null, childrenIds: [a], role: 'user', content: question, timestamp: ts, models: [model] },
    [a]: { id: a, parentId: q, childrenIds: [], role: 'assistant', content: answer, model, modelName: model, timestamp: ts, done: true },
  };
  return {
    chat: {
      title,
      models: [model],
      params: {},
      history: { currentId: a, messages },
      messages: [messages[q], messages[a]],
      tags: [],
      timestamp: Date.now(),
    },
  };
}

// The sidebar, opened when it is collapsed (its toggle is labelled for what a click does).
async function openSidebar() {
  await page.locator('button[aria-label="Close Sidebar"]:visible, button[aria-label="Open Sidebar"]:visible').first().waitFor();
  if (await page.locator('button[aria-label="Close Sidebar"]:visible').count()) return;
  await page.locator('button[aria-label="Open Sidebar"]:visible').first().click();
  await page.locator('button[aria-label="Close Sidebar"]:visible').first().waitFor();
}

// The "What's New" dialog, shown once per version (the first sign-up sees it); `wait` gives it
// time to appear. Closing it stores the version in the user's settings.
async function dismissChangelog(wait = 0) {
  const ok = page.getByRole('button', { name: "Okay, Let's Go!" });
  if (wait) await ok.waitFor({ state: 'visible', timeout: wait }).catch(() => {});
  if (await ok.isVisible().catch(() => false)) {
    await ok.click();
    await ok.waitFor({ state: 'hidden' });
  }
}

// The home page, loaded (the chat input is shown).
async function home() {
  await page.goto(`${base}/`);
  await page.locator('#chat-input').waitFor({ state: 'visible' });
  await dismissChangelog();
}

async function chatMenu(id, choice) {
  const link = page.locator(`#sidebar a[href="/c/${id}"]`);
  await link.hover();
  // The item's menu button sits beside the link, in the item's hover group.
  const group = link.locator('xpath=ancestor::div[contains(concat(" ", normalize-space(@class), " "), " group ")][1]');
  await group.getByRole('button', { name: 'Chat Menu' }).click();
  await page.getByRole('menuitem', { name: choice }).click();
}

const chats = {};
const QUESTION = 'Which pastry should I try in Lisbon?';
const ANSWER = 'Try the pastel de nata, warm, with cinnamon.';

await step('sign-up', [], async () => {
  await page.goto(`${base}/`);
  await page.getByText('Get started').click();
  await page.fill('#name', name);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.getByRole('button', { name: 'Create Admin Account' }).click();
  await page.waitForURL(`${base}/`);
  await page.locator('#chat-input').waitFor({ state: 'visible' });
  token = await page.evaluate(() => localStorage.token);
  if (!token) fail('no token in localStorage after sign-up');
  const me = await api('GET', '/api/v1/auths/');
  if (me.role !== 'admin') fail(`the first account's role is ${me.role}`);
  await dismissChangelog(10000);
  return `signed in as ${me.email} (${me.role}); the chat input is shown`;
});

await step('sidebar', ['sign-up'], async () => {
  const model = (await api('GET', '/api/models')).data[0]?.id ?? fail('no model listed');
  chats.kept = (await api('POST', '/api/v1/chats/new', chatWith('Trip to Lisbon', QUESTION, ANSWER, model))).id;
  chats.gone = (await api('POST', '/api/v1/chats/new', chatWith('Sourdough help', 'Why is my bread flat?', 'The starter is young.', model))).id;
  await page.reload();
  await dismissChangelog();
  await openSidebar();
  for (const [id, title] of [[chats.kept, 'Trip to Lisbon'], [chats.gone, 'Sourdough help']]) {
    const link = page.locator(`#sidebar a[href="/c/${id}"]`);
    await link.waitFor({ state: 'visible' }).catch(() => fail(`the sidebar does not list ${title}`));
    const text = (await link.innerText()).trim();
    if (!text.includes(title)) fail(`the sidebar shows "${text}" for ${title}`);
  }
  return 'the sidebar lists "Trip to Lisbon" and "Sourdough help"';
});

await step('open-chat', ['sidebar'], async () => {
  await page.locator(`#sidebar a[href="/c/${chats.kept}"]`).click();
  await page.waitForURL(`${base}/c/${chats.kept}`);
  await waitForText(QUESTION, 'the opened chat');
  await waitForText(ANSWER, 'the opened chat');
  return `/c/${chats.kept} shows the question and the answer`;
});

await step('send-message', ['sign-up'], async () => {
  await home();
  await page.locator('#chat-input').click();
  await page.keyboard.type(typedMessage);
  // What the newest reply shows, each time it changes: proof that it arrives in parts.
  await page.evaluate(() => {
    window.__replies = [];
    new MutationObserver(() => {
      const all = document.querySelectorAll('#messages-container .chat-assistant');
      const last = all[all.length - 1];
      const text = last ? last.innerText.replace(/\s+/g, ' ').trim() : '';
      if (text && window.__replies[window.__replies.length - 1] !== text) window.__replies.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/c\/[0-9a-f-]+$/);
  chats.typed = page.url().split('/c/')[1];
  await page.locator('button[aria-label="Stop"]').waitFor({ state: 'visible' }).catch(() => fail('no stop button while the reply streams'));
  await screenshot('streaming');
  await waitForText(reply, 'the reply');
  await page.locator('button[aria-label="Stop"]').waitFor({ state: 'hidden' }).catch(() => fail('the stop button stays after the reply'));
  const seen = await page.evaluate(() => window.__replies);
  const parts = seen.filter((t) => t && !t.includes(reply));
  if (!parts.length) fail(`the reply did not arrive in parts (seen: ${JSON.stringify(seen)})`);
  if (!(await visibleText()).includes(typedMessage)) fail('the typed message is not shown');
  return `the reply streamed in (${parts.length} partial views before "${reply}") and the stop button went away`;
});

await step('reload', ['send-message'], async () => {
  await page.reload();
  await waitForText(typedMessage, 'after the reload');
  await waitForText(reply, 'after the reload');
  return `/c/${chats.typed} still shows the message and the reply`;
});

await step('stop', ['send-message'], async () => {
  await home();
  await page.locator('#chat-input').click();
  await page.keyboard.type(stopMessage);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/c\/[0-9a-f-]+$/);
  chats.stopped = page.url().split('/c/')[1];
  const stop = page.locator('button[aria-label="Stop"]');
  await stop.waitFor({ state: 'visible' }).catch(() => fail('no stop button while the reply streams'));
  const first = reply.split(' ')[0];
  const answer = page.locator('#messages-container .chat-assistant').last();
  await answer.getByText(first, { exact: false }).waitFor({ state: 'visible' }).catch(() => fail(`the reply's first word "${first}" is not shown`));
  await stop.click();
  await stop.waitFor({ state: 'hidden' }).catch(() => fail('the stop button stays after stopping'));
  await screenshot('stopped');
  // The server stores the text the reply had when it stopped.
  let stored = '';
  for (let i = 0; i < 50; i += 1) {
    const chat = await api('GET', `/api/v1/chats/${chats.stopped}`);
    const m = Object.values(chat.chat.history.messages).find((x) => x.role === 'assistant');
    if (m && m.done) {
      stored = m.content;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!stored) fail('no finished, non-empty reply is stored');
  if (stored === reply || !reply.startsWith(stored)) fail(`the stored reply is "${stored}", not a part of "${reply}"`);
  await page.reload();
  await waitForText(stopMessage, 'after stopping and reloading');
  const shown = (await page.locator('#messages-container .chat-assistant').last().innerText()).replace(/\s+/g, ' ').trim();
  if (!shown.includes(stored.trim())) fail(`after the reload the reply shows "${shown}", stored "${stored}"`);
  if (shown.includes(reply)) fail('after the reload the whole reply is shown');
  return `stopped after "${stored}"; the same text is shown after a reload`;
});

await step('rename', ['sidebar'], async () => {
  await home();
  await openSidebar();
  await chatMenu(chats.kept, 'Rename');
  const input = page.locator(`#chat-title-input-${chats.kept}`);
  await input.waitFor({ state: 'visible' });
  await input.fill('Lisbon pastries');
  await input.press('Enter');
  const link = page.locator(`#sidebar a[href="/c/${chats.kept}"]`);
  await link.getByText('Lisbon pastries').waitFor({ state: 'visible' }).catch(() => fail('the sidebar keeps the old title'));
  const stored = await api('GET', `/api/v1/chats/${chats.kept}`);
  if (stored.title !== 'Lisbon pastries') fail(`the stored title is "${stored.title}"`);
  return 'the sidebar and the server both have "Lisbon pastries"';
});

await step('delete', ['sidebar'], async () => {
  await openSidebar();
  await chatMenu(chats.gone, 'Delete');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.locator(`#sidebar a[href="/c/${chats.gone}"]`).waitFor({ state: 'detached' }).catch(() => fail('the sidebar still lists the deleted chat'));
  const res = await fetch(`${base}/api/v1/chats/${chats.gone}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 401) fail(`the deleted chat answers ${res.status}`);
  return '"Sourdough help" is gone from the sidebar and from the server';
});

await step('sign-out', ['sign-up'], async () => {
  await home();
  await openSidebar();
  await page.locator('#sidebar').getByRole('button', { name }).click();
  await page.getByRole('menuitem', { name: 'Admin Panel' }).waitFor({ state: 'visible' }).catch(() => fail('the user menu has no Admin Panel'));
  await page.getByRole('menuitem', { name: 'Sign Out' }).click();
  await page.waitForURL(/\/auth/);
  await waitForText('Sign in to Open WebUI', 'after signing out');
  if (await page.evaluate(() => localStorage.token)) fail('the token is still in localStorage');
  const res = await fetch(`${base}/api/v1/auths/`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 401) fail(`the old token still answers ${res.status}`);
  return 'the sign-in form is shown and the old token is refused';
});

await browser.close();
for (const line of bad) console.log(`BAD ${line}`);
const passed = results.filter(([, ok]) => ok).length;
console.log(`chats: kept=${chats.kept ?? ''} deleted=${chats.gone ?? ''} typed=${chats.typed ?? ''} stopped=${chats.stopped ?? ''}`);
console.log(`summary: ${passed} of ${results.length} steps passed, ${bad.length} bad answers`);
process.exit(passed === results.length && bad.length === 0 ? 0 : 1);
