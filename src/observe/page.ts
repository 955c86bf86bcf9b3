// The status page at `/` of the status server: plain files from web/ (no build step) and uPlot from its npm
// package (no CDN), read once and kept in memory. The page itself reads the JSON API (/api/overview,
// /api/analytics, /api/events, /api/status) and listens to /api/stream (server-sent events).
//
// Access: with `http_token`, the page and its data need the token, as the API does; a browser cannot send a bearer
// header when it navigates, so the token may also come in the `steerdns_token` cookie, which the small login page
// served with the 401 sets (SameSite=Strict: other sites' pages cannot make the browser send it). Without a token,
// the page answers loopback clients only.
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';

/** web/ of the package: the same relative place from src/observe (tests) and dist/observe (the build). */
export const WEB_DIR = path.resolve(__dirname, '..', '..', 'web');

export const TOKEN_COOKIE = 'steerdns_token';

interface Asset {
  file: () => string;
  type: string;
  /** Served without the token (the login page needs them; they hold no data). */
  public: boolean;
}

const ASSETS: Record<string, Asset> = {
  '/': { file: () => path.join(WEB_DIR, 'index.html'), type: 'text/html; charset=utf-8', public: false },
  '/ui/app.js': { file: () => path.join(WEB_DIR, 'app.js'), type: 'text/javascript; charset=utf-8', public: false },
  '/ui/style.css': { file: () => path.join(WEB_DIR, 'style.css'), type: 'text/css; charset=utf-8', public: true },
  '/ui/login.js': { file: () => path.join(WEB_DIR, 'login.js'), type: 'text/javascript; charset=utf-8', public: true },
  '/ui/uplot.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8', public: false },
  '/ui/uplot.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8', public: false },
};

/** What the browser may load and run: this server's own files only; uPlot sets inline styles through the CSSOM. */
export const PAGE_HEADERS: http.OutgoingHttpHeaders = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function pageAsset(urlPath: string): Asset | null {
  return Object.prototype.hasOwnProperty.call(ASSETS, urlPath) ? ASSETS[urlPath] : null;
}

const cache = new Map<string, Buffer>();

/** The asset's bytes (read once); throws when the file is missing (a broken install). */
export function assetBody(a: Asset): Buffer {
  const file = a.file();
  let body = cache.get(file);
  if (!body) {
    body = readFileSync(file);
    cache.set(file, body);
  }
  return body;
}

/** The token in the request's `steerdns_token` cookie, or null. */
export function cookieToken(req: http.IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}

export function isLoopbackPeer(req: http.IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

/** Served with the 401 for `/`: asks for the token and keeps it in the cookie. No data, no inline script. */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>steerdns: sign in</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/style.css"></head>
<body class="login"><main><h1>steerdns</h1>
<p>This status server is protected by <code>server.http_token</code>.</p>
<form id="login"><label for="token">Token</label> <input id="token" type="password" autocomplete="current-password" autofocus>
<button type="submit">Open the status page</button></form><p id="login-error" class="error" hidden>Wrong token.</p></main>
<script src="/ui/login.js"></script></body></html>
`;
