// A scripted browser for preauth's interop tests: logs in on provider.mjs as a person
// would, with cookies, and brings the authorization response back.
//
//   node browser.mjs AUTHORIZATION_URL
//
// preauth runs it as `$BROWSER <authorization URL>`. It follows the provider's redirects
// with a cookie jar, fills in and submits the login form and the consent form, and stops
// at the first redirect that leaves the provider (the authorization response):
// - to `http://127.0.0.1:…` (preauth's loopback listener): it GETs that URL once, as a
//   browser would, and exits;
// - to anything else (a web redirect URL, the paste route): it prints the URL on standard
//   output and contacts nothing.
//
// It only ever connects to 127.0.0.1, and refuses an authorization URL elsewhere.
// Diagnostics go to standard error; the exit code is 0 when the authorization response
// was reached, else 1.

import http from 'node:http';

/** What the login form is filled in with (devInteractions takes any account). */
const ACCOUNT = { login: 'alice', password: 'wonderland' };
/** The most requests one login may take. */
const MAX_STEPS = 20;
/** The longest wait for one answer, in milliseconds. */
const TIMEOUT_MS = 10_000;

function fail(message) {
  console.error(`browser.mjs: ${message}`);
  process.exit(1);
}

/** Whether `url` may be contacted: plain HTTP on 127.0.0.1 only. */
function contactable(url) {
  return url.protocol === 'http:' && url.hostname === '127.0.0.1';
}

/** One HTTP request to 127.0.0.1; resolves to { status, headers, body }. */
function request(method, url, { headers = {}, body } = {}) {
  if (!contactable(url)) fail(`refusing to contact ${url.origin}`);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer from ${url.origin} in time`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Cookies by name, each with the path it is sent for (the provider's own only). */
class CookieJar {
  #cookies = new Map();

  /** Takes the `Set-Cookie` headers of an answer. */
  store(setCookie = []) {
    for (const line of setCookie) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = Object.fromEntries(attributes.map((a) => {
        const [k, ...v] = a.split('=');
        return [k.toLowerCase(), v.join('=')];
      }));
      const expired = attr['max-age'] === '0'
        || (attr.expires !== undefined && Date.parse(attr.expires) <= Date.now());
      const key = `${name};${attr.path ?? '/'}`;
      if (expired || value === '') {
        this.#cookies.delete(key);
      } else {
        this.#cookies.set(key, { name, value, path: attr.path ?? '/' });
      }
    }
  }

  /** The `Cookie` header for a request to `url`. */
  header(url) {
    return [...this.#cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

/** Decodes the HTML escapes oidc-provider's templates write in attribute values. */
function unescapeHtml(text) {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The attributes of a tag's inside (`name="value"` pairs). */
function attributes(tag) {
  return Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)]
    .map(([, k, v]) => [k.toLowerCase(), unescapeHtml(v)]));
}

/** The first POST form of a page: its action and the fields a person would send. */
function postForm(page, base) {
  for (const [, formTag, inside] of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const form = attributes(formTag);
    if ((form.method ?? 'get').toLowerCase() !== 'post') continue;
    const fields = new URLSearchParams();
    for (const [, inputTag] of inside.matchAll(/<input\b([^>]*)>/gi)) {
      const input = attributes(inputTag);
      if (!input.name) continue;
      fields.append(input.name, ACCOUNT[input.name] ?? input.value ?? '');
    }
    return { action: new URL(form.action ?? '', base), fields };
  }
  return undefined;
}

async function main() {
  const [arg] = process.argv.slice(2);
  if (!arg) fail('usage: node browser.mjs AUTHORIZATION_URL');
  let url;
  try {
    url = new URL(arg);
  } catch {
    fail('the argument is not a URL');
  }
  if (!contactable(url)) fail(`the authorization URL is not on 127.0.0.1: ${url.origin}`);
  const provider = url.origin;
  const jar = new CookieJar();
  let method = 'GET';
  let body;

  for (let step = 0; step < MAX_STEPS; step += 1) {
    const headers = { cookie: jar.header(url), accept: 'text/html' };
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const answer = await request(method, url, { headers, body });
    jar.store(answer.headers['set-cookie']);

    if (answer.status >= 300 && answer.status < 400 && answer.headers.location) {
      const next = new URL(answer.headers.location, url);
      if (next.origin !== provider) {
        return deliver(next);
      }
      [url, method, body] = [next, 'GET', undefined];
      continue;
    }
    const form = answer.status === 200 ? postForm(answer.body, url) : undefined;
    if (!form) {
      const text = answer.body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
      fail(`stuck at ${url.pathname} (HTTP ${answer.status}): ${text.slice(0, 300)}`);
    }
    if (form.action.origin !== provider) fail(`a form posts to ${form.action.origin}`);
    [url, method, body] = [form.action, 'POST', form.fields.toString()];
  }
  fail(`no authorization response after ${MAX_STEPS} requests`);
}

/** Hands the authorization response to its redirect URL's owner. */
async function deliver(target) {
  if (!contactable(target)) {
    process.stdout.write(`${target.href}\n`);
    return;
  }
  const answer = await request('GET', target);
  console.error(`browser.mjs: the listener at ${target.origin}${target.pathname} answered HTTP ${answer.status}`);
}

main().catch((e) => fail(e.message));
