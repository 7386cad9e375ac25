// Shared test fixtures: a fake clock, agent registration bodies, and deps over any store.

import { loadConfig } from '../../control-plane/core/config.ts';
import type { Deps } from '../../control-plane/core/deps.ts';
import { silentLogger } from '../../control-plane/core/runtime.ts';
import { mcdaPolicy } from '../../control-plane/core/scheduler/index.ts';
import { Scoreboard } from '../../control-plane/core/scoreboard.ts';
import type { Store } from '../../control-plane/core/storage/types.ts';
import { createTicketSigner, generatePrivateKeyPem } from '../../control-plane/core/tickets.ts';
import { ViewCache } from '../../control-plane/core/view-cache.ts';
import type { RegisterRequest } from '../../protocol/agent-api.ts';

export const JOIN_TOKEN = 'test-join-token';
export const MODEL = 'smollm2:135m';

export function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

let keyPem: Promise<string> | undefined;

export async function makeDeps(
  store: Store,
  clock: { now(): number },
  env: Record<string, string> = {},
) {
  keyPem ??= generatePrivateKeyPem('RS256');
  // The routing contract runs in development mode (no client keys); the security suite sets keys.
  const config = loadConfig({ JOIN_TOKEN, AUTH_MODE: 'development', ...env });
  const signer = await createTicketSigner({ issuer: config.issuer, privateKeyPem: await keyPem });
  const deps: Deps = {
    store,
    clock,
    signer,
    config,
    scheduler: mcdaPolicy({ random: () => 0.5 }),
    scoreboard: new Scoreboard(),
    views: new ViewCache(config.viewCacheTtlMs),
    log: silentLogger,
  };
  return deps;
}

export function registration(
  id: string,
  overrides: Partial<RegisterRequest> = {},
): RegisterRequest {
  return {
    id,
    url: `http://127.0.0.1:${9000 + (id.length % 100)}`,
    maxConcurrentJobs: 4,
    models: [{ name: MODEL, loaded: true, memoryBytes: 150_000_000 }],
    stats: {
      cpuCores: 2,
      cpuLoadPercent: 10,
      memoryTotalBytes: 24e9,
      memoryFreeBytes: 20e9,
      gpus: [],
    },
    engine: 'fake',
    version: '0.1.0',
    ...overrides,
  };
}

export function heartbeat(extra: Record<string, unknown> = {}) {
  return {
    activeJobs: 0,
    runningJobs: [],
    models: [{ name: MODEL, loaded: true, memoryBytes: 150_000_000 }],
    stats: registration('x').stats,
    ...extra,
  };
}
