import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLogger } from '../../../control-plane/core/runtime.ts';

afterEach(() => vi.restoreAllMocks());

describe('jsonLogger', () => {
  it('writes one JSON object a line with time, level, svc and the request id', () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const log = jsonLogger({ svc: 'control-plane' }, { now: () => Date.UTC(2026, 0, 1) });
    log.info('job ended', { requestId: 'r1', outcome: 'success' });
    log.error('request failed', { path: '/x' });
    expect(JSON.parse(String(out.mock.calls[0]?.[0]))).toEqual({
      time: '2026-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'job ended',
      svc: 'control-plane',
      requestId: 'r1',
      outcome: 'success',
    });
    expect(JSON.parse(String(err.mock.calls[0]?.[0]))).toMatchObject({ level: 'error' });
  });
});
