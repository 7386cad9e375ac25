// The dashboard page: signs in with the admin key, then polls the data endpoints every few
// seconds (the charts' every half minute; paused while the tab is hidden) and redraws.

import type {
  DecisionsResponse,
  FleetResponse,
  RequestRow,
  RequestsResponse,
  SeriesResponse,
} from '../core/dashboard/types.ts';
import { DASHBOARD_API } from '../core/dashboard/types.ts';
import { adminKey, getJson, Unauthorized } from './api.ts';
import { Charts } from './charts.ts';
import { $, keyValues } from './dom.ts';
import { renderDecisions, renderFleet, renderRequests } from './tables.ts';

const POLL_MS = 5_000;
/** The charts move by the minute: their data (three scans of the tickets table) is read less often. */
const SERIES_MS = 30_000;
/** The request timeline endpoint (admin key); older control planes answer 404. */
const timelinePath = (id: string) => `/v1/requests/${encodeURIComponent(id)}`;

let charts: Charts | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let seriesReadAt = 0;

function show(signedIn: boolean) {
  $('login').hidden = signedIn;
  $('board').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
  if (signedIn) charts ??= new Charts();
}

function signOut(message = '') {
  clearTimeout(timer);
  seriesReadAt = 0;
  adminKey.clear();
  $('login-error').textContent = message;
  $('updated').textContent = '';
  show(false);
}

async function openRequest(r: RequestRow) {
  const panel = $('request-detail');
  $('request-detail-id').textContent = r.id;
  $('request-detail-source').textContent = 'Loading the timeline…';
  $('request-detail-body').replaceChildren();
  panel.hidden = false;
  // Any failure (404 on a control plane without timelines, a refusal) falls back to the row: the
  // list's own endpoints, not this one, decide whether the key is still good.
  let timeline: unknown = null;
  let why = 'none for this request';
  try {
    timeline = await getJson<unknown>(timelinePath(r.id));
  } catch (err) {
    why = (err as Error).message;
  }
  $('request-detail-source').textContent =
    timeline === null
      ? `No timeline from GET /v1/requests/:id (${why}): the row as listed.`
      : 'Timeline from GET /v1/requests/:id.';
  $('request-detail-body').replaceChildren(keyValues(timeline ?? r));
}

async function refresh(): Promise<void> {
  const withSeries = Date.now() - seriesReadAt >= SERIES_MS;
  const [fleet, decisions, requests, series] = await Promise.all([
    getJson<FleetResponse>(`${DASHBOARD_API}/fleet`),
    getJson<DecisionsResponse>(`${DASHBOARD_API}/decisions`),
    getJson<RequestsResponse>(`${DASHBOARD_API}/requests?limit=50`),
    withSeries ? getJson<SeriesResponse>(`${DASHBOARD_API}/series`) : null,
  ]);
  if (withSeries) seriesReadAt = Date.now();
  if (fleet) renderFleet(fleet.agents);
  if (decisions) {
    renderDecisions(decisions.decisions);
    $('decisions-scope').textContent = `Kept by ${decisions.scope}.`;
  }
  if (requests) renderRequests(requests.requests, (r) => void openRequest(r));
  if (series) charts?.update(series);
  $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

async function poll() {
  clearTimeout(timer);
  try {
    if (!document.hidden) await refresh();
  } catch (err) {
    if (err instanceof Unauthorized) return signOut('The admin key was refused.');
    $('updated').textContent = `Update failed: ${(err as Error).message}`;
  }
  timer = setTimeout(poll, POLL_MS);
}

function start() {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('admin-key') as HTMLInputElement;
    adminKey.set(input.value.trim());
    input.value = '';
    $('login-error').textContent = '';
    show(true);
    void poll();
  });
  $('sign-out').addEventListener('click', () => signOut());
  $('request-detail-close').addEventListener('click', () => {
    $('request-detail').hidden = true;
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && adminKey.get()) void poll();
  });
  const signedIn = adminKey.get() !== null;
  show(signedIn);
  if (signedIn) void poll();
}

start();
