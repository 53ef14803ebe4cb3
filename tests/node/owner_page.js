// The owner's page in a real browser: Debian's chromium, headless, driven by
// playwright-core. Logs in (a wrong PIN first), reads every figure, presses
// "collected", disconnects a user and prints a batch, keeping a screenshot of each
// page. Prints one JSON object with what it read; the Rust test compares it with
// `hotspot-agent stats`, the store and the simulated router.
//
// node owner_page.js URL PIN WRONG_PIN SCREENSHOT_DIR PLAN
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

const [url, pin, wrongPin, shots, plan] = process.argv.slice(2);
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';

async function figure(page, name, within) {
  const root = within ? page.locator(within) : page;
  return Number((await root.locator(`[data-figure=${name}]`).first().textContent()).trim());
}

let current = null;

async function main() {
  const browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  // A phone's screen. The certificate is the page's own self-signed one; the Rust
  // test checks its fingerprint against `owner-page fingerprint` separately.
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  current = page;
  const out = { screenshots: [] };
  const shot = async (name) => {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    out.screenshots.push(file);
  };

  // No session: the page sends the browser to the login form.
  await page.goto(url + '/');
  out.redirected_to_login = new URL(page.url()).pathname === '/login';
  await shot('login');

  await page.fill('#pin', wrongPin);
  await Promise.all([page.waitForLoadState(), page.click('#login')]);
  out.wrong_pin = {
    path: new URL(page.url()).pathname,
    error: (await page.locator('#error').textContent()).trim(),
  };
  await shot('login-wrong-pin');

  await page.fill('#pin', pin);
  await Promise.all([page.waitForURL(url + '/'), page.click('#login')]);
  const cookies = await context.cookies();
  out.cookie = cookies.find((c) => c.name === 'owner_session');

  const channels = {};
  for (const row of await page.locator('tr[data-channel]').all()) {
    channels[await row.getAttribute('data-channel')] = {
      vouchers: await figure(row, 'vouchers'),
      value: await figure(row, 'value'),
    };
  }
  out.today = {
    coins_value: await figure(page, 'coins_value'),
    coins: await figure(page, 'coins'),
    cash_total: await figure(page, 'cash_total'),
    cash_coins: await figure(page, 'cash_coins'),
    channels,
  };
  await shot('today');

  await Promise.all([page.waitForURL(/collected=|empty=/), page.click('#collect')]);
  out.collected = {
    message: (await page.locator('#collected').textContent()).trim(),
    cash_total: await figure(page, 'cash_total'),
  };
  await shot('today-collected');

  await page.goto(url + '/health');
  const pool = {};
  for (const row of await page.locator('tr[data-plan]').all()) {
    pool[await row.getAttribute('data-plan')] = await figure(row, 'ready');
  }
  out.health = {
    router: (await page.locator('[data-figure=router]').textContent()).trim(),
    alerts: await figure(page, 'alerts'),
    alert_text: await page.locator('tr.alert').allTextContents(),
    pool,
  };
  await shot('health');

  await page.goto(url + '/users');
  out.users = {
    online: await figure(page, 'active'),
    names: await page.locator('tr[data-user]').evaluateAll((rows) => rows.map((r) => r.dataset.user)),
  };
  await shot('users');
  if (out.users.names.length > 0) {
    const name = out.users.names[0];
    await Promise.all([page.waitForURL(/disconnected=/), page.click(`[id="disconnect-${name}"]`)]);
    out.users.disconnected = name;
    out.users.message = (await page.locator('#disconnected').textContent()).trim();
    out.users.online_after = await figure(page, 'active');
    await shot('users-disconnected');
  }

  await page.goto(url + '/batch');
  await shot('batch');
  await page.selectOption('#plan', plan);
  await page.fill('#count', '2');
  await Promise.all([page.waitForURL(/made=/), page.click('#print')]);
  out.batch = { message: (await page.locator('#made').textContent()).trim() };
  await shot('batch-printed');

  await browser.close();
  console.log(JSON.stringify(out));
}

main().catch(async (e) => {
  console.error(e && e.stack ? e.stack : String(e));
  if (current) {
    console.error(`at ${current.url()}:\n${await current.content().catch(() => '?')}`);
  }
  process.exit(1);
});
