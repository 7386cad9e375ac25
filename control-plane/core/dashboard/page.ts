// Serves the dashboard page at /dashboard from the bundled assets (scripts/build-dashboard.ts), on
// Node and Workers alike. The page itself is public; its data endpoints need the admin key.
import { Hono } from 'hono';
import { etag } from 'hono/etag';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './assets.generated.ts';

export const DASHBOARD_PATH = '/dashboard';

/** Only our own script, styles and API calls; never inside a frame. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Revalidated on every load (the ETag makes that a 304): a new control plane, a new page.
  'cache-control': 'no-cache',
};

export function dashboardPageRoutes() {
  const app = new Hono();
  app.use('*', etag());
  const asset = (path: string, body: string, contentType: string) =>
    app.get(path, (c) => c.body(body, 200, { ...SECURITY_HEADERS, 'content-type': contentType }));
  asset('/', DASHBOARD_HTML, 'text/html; charset=utf-8');
  asset('/app.js', DASHBOARD_JS, 'text/javascript; charset=utf-8');
  asset('/app.css', DASHBOARD_CSS, 'text/css; charset=utf-8');
  return app;
}
