// A screenshot of one task in the local Label Studio's labelling page (docs/images/label-studio-task.png):
// logs in as the user scripts/label-studio.sh made, then drives headless Chromium over the DevTools protocol.
//   node --experimental-websocket --import tsx scripts/label-studio-screenshot.ts PROJECT_ID TASK_ID [OUT.png]
// Environment: LABEL_STUDIO_URL, LABEL_STUDIO_USERNAME, LABEL_STUDIO_PASSWORD (as `scripts/label-studio.sh env` prints
// them), CHROMIUM [chromium].
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [project, task, out = 'docs/images/label-studio-task.png'] = process.argv.slice(2);
const base = process.env.LABEL_STUDIO_URL ?? 'http://127.0.0.1:8089';
const user = process.env.LABEL_STUDIO_USERNAME ?? 'clipn@example.com';
const password = process.env.LABEL_STUDIO_PASSWORD ?? '';
if (!project || !task || !password) throw new Error('usage: PROJECT_ID TASK_ID [OUT.png], with LABEL_STUDIO_PASSWORD set (eval "$(scripts/label-studio.sh env)")');

const cookiesOf = (res: Response): Map<string, string> =>
  new Map(res.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=') as [string, string]));

/** Django's form login: the CSRF cookie and field from the login page, then the form. */
async function login(): Promise<string> {
  const page = await fetch(`${base}/user/login/`);
  const csrf = cookiesOf(page).get('csrftoken');
  const field = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!csrf || !field) throw new Error('the login page has no CSRF token');
  const res = await fetch(`${base}/user/login/`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `csrftoken=${csrf}`, referer: `${base}/user/login/`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrfmiddlewaretoken: field, email: user, password }),
  });
  const session = cookiesOf(res).get('sessionid');
  if (!session) throw new Error(`login as ${user} failed (HTTP ${res.status})`);
  return session;
}

/** A DevTools protocol session on one page. */
function devtools(wsUrl: string): Promise<(method: string, params?: object) => Promise<any>> {
  const ws = new WebSocket(wsUrl);
  let next = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const w = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id!);
    if (msg.error) w.reject(new Error(msg.error.message));
    else w.resolve(msg.result);
  };
  const send = (method: string, params: object = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(send);
    ws.onerror = () => reject(new Error(`cannot connect to ${wsUrl}`));
  });
}

/** Polls `expression` in the page until it is true, for at most `ms`. */
async function until(send: (m: string, p?: object) => Promise<any>, expression: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await send('Runtime.evaluate', { expression, returnByValue: true });
    if (r.result?.value === true) return;
    await new Promise((r) => setTimeout(r, 250)); // poll interval, bounded by the deadline
  }
  throw new Error(`the page did not show ${expression} within ${ms} ms`);
}

const session = await login();
const profile = mkdtempSync(join(tmpdir(), 'clipn-chromium-'));
const chromium = spawn(process.env.CHROMIUM ?? 'chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--remote-debugging-port=0', `--user-data-dir=${profile}`, '--window-size=1440,1700', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
try {
  const browserWs = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), 30_000);
    chromium.stderr!.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) (clearTimeout(timer), resolve(m[1]!));
    });
  });
  const port = new URL(browserWs).port;
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
  const send = await devtools(targets.find((t) => t.type === 'page')!.webSocketDebuggerUrl);
  await send('Network.enable');
  await send('Network.setCookie', { name: 'sessionid', value: session, url: base });
  await send('Emulation.setDeviceMetricsOverride', { width: 1440, height: 1700, deviceScaleFactor: 1, mobile: false });
  await send('Page.enable');
  await send('Page.navigate', { url: `${base}/projects/${project}/data?task=${task}` });
  // The labelling view is up when its image has loaded and the choices are drawn.
  await until(send, `[...document.querySelectorAll('img')].some((i) => i.complete && i.naturalWidth > 0 && i.closest('[class*="lsf-"]')) && document.body.innerText.includes('none of these')`, 60_000);
  await new Promise((r) => setTimeout(r, 1500)); // let the last layout pass settle before the capture
  const shot = await send('Page.captureScreenshot', { format: 'png' });
  writeFileSync(out, Buffer.from(shot.data as string, 'base64'));
  process.stdout.write(`wrote ${out}\n`);
} finally {
  // The profile folder only after Chromium has exited: it writes there until then.
  const exited = new Promise((r) => chromium.once('exit', r));
  chromium.kill();
  await exited;
  rmSync(profile, { recursive: true, force: true });
}
process.exit(0);
