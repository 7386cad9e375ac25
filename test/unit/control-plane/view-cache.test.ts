// The view cache's read-behind (Node): an expired copy serves the decision, the database is read
// after it; a copy two TTLs old is not used.
import { describe, expect, it } from 'vitest';
import type { AgentView } from '../../../control-plane/core/scheduler/types.ts';
import type { AgentRegistry } from '../../../control-plane/core/storage/types.ts';
import { ViewCache } from '../../../control-plane/core/view-cache.ts';

function countingRegistry() {
  let reads = 0;
  const agents = {
    async views() {
      reads++;
      return [{ id: `read-${reads}` } as AgentView];
    },
  } as unknown as AgentRegistry;
  return { agents, reads: () => reads };
}

const ids = (r: { views: AgentView[] }) => r.views.map((v) => v.id);

describe('ViewCache read-behind', () => {
  it('serves an expired copy once and reads the database after the decision', async () => {
    const db = countingRegistry();
    const cache = new ViewCache(1_000, { readBehind: true });
    expect(ids(await cache.get(db.agents, 'm', 0))).toEqual(['read-1']);
    expect(ids(await cache.get(db.agents, 'm', 999))).toEqual(['read-1']);
    // Expired: the old copy answers at once, one read is started for everyone.
    expect(await cache.get(db.agents, 'm', 1_500)).toEqual({
      views: [{ id: 'read-1' }],
      cached: true,
    });
    expect(ids(await cache.get(db.agents, 'm', 1_600))).toEqual(['read-1']);
    expect(db.reads()).toBe(1);
    await new Promise((r) => setTimeout(r, 5));
    expect(db.reads()).toBe(2);
    expect(ids(await cache.get(db.agents, 'm', 1_700))).toEqual(['read-2']);
  });

  it('reads at once when the copy is two TTLs old, or without read-behind', async () => {
    const db = countingRegistry();
    const behind = new ViewCache(1_000, { readBehind: true });
    await behind.get(db.agents, 'm', 0);
    expect(await behind.get(db.agents, 'm', 2_000)).toMatchObject({ cached: false });
    const plain = new ViewCache(1_000);
    await plain.get(db.agents, 'm', 0);
    expect(await plain.get(db.agents, 'm', 1_000)).toMatchObject({ cached: false });
  });
});
