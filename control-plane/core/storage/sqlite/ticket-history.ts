// Ticket history for the dashboard: confirmed leases, the latest tickets, and activity per time
// bucket (counts by state, tokens, TTFT percentiles) aggregated in SQL, so a poll reads a few
// dozen rows whatever the traffic.
import { desc, sql } from 'drizzle-orm';
import { tickets } from '../../../../schema/tables.ts';
import type { ActivityBucket, TicketStore } from '../types.ts';
import type { Db } from './db.ts';

type TicketHistory = Pick<TicketStore, 'confirmedCounts' | 'recent' | 'activity'>;

export function sqliteTicketHistory(db: Db): TicketHistory {
  return {
    async confirmedCounts() {
      const rows = await db.all<{ agent_id: string; n: number }>(sql`
        SELECT agent_id, count(*) AS n FROM tickets
        WHERE state IN ('issued', 'running') AND (admitted_at IS NOT NULL OR state = 'running')
        GROUP BY agent_id`);
      return new Map(rows.map((r) => [r.agent_id, Number(r.n)]));
    },

    async recent(limit) {
      return db.select().from(tickets).orderBy(desc(tickets.issuedAt)).limit(limit);
    },

    async activity(since, bucketMs) {
      // Inlined as integer literals, so that `/` divides as integers whatever a driver binds.
      if (!Number.isSafeInteger(since) || !Number.isSafeInteger(bucketMs) || bucketMs <= 0) {
        throw new RangeError('activity: since and bucketMs must be integers (bucketMs > 0)');
      }
      const bucketOf = (column: string) => sql.raw(`(${column} - ${since}) / ${bucketMs}`);
      const [issued, finished, ttft] = await Promise.all([
        db.all<{ bucket: number; state: string; n: number }>(sql`
          SELECT ${bucketOf('issued_at')} AS bucket, state, count(*) AS n FROM tickets
          WHERE issued_at >= ${since} GROUP BY bucket, state`),
        db.all<{ bucket: number; tokens: number }>(sql`
          SELECT ${bucketOf('finished_at')} AS bucket, sum(coalesce(completion_tokens, 0)) AS tokens
          FROM tickets WHERE finished_at >= ${since} GROUP BY bucket`),
        // Nearest rank: the value at rank ceil(p × n) of the bucket's sorted TTFTs.
        db.all<{ bucket: number; rn: number; n: number; ttft: number }>(sql`
          SELECT bucket, rn, n, ttft FROM (
            SELECT ${bucketOf('finished_at')} AS bucket, ttft_ms AS ttft,
              row_number() OVER (PARTITION BY ${bucketOf('finished_at')} ORDER BY ttft_ms) AS rn,
              count(*) OVER (PARTITION BY ${bucketOf('finished_at')}) AS n
            FROM tickets WHERE finished_at >= ${since} AND ttft_ms IS NOT NULL)
          WHERE rn = (n * 50 + 99) / 100 OR rn = (n * 95 + 99) / 100`),
      ]);
      const buckets = new Map<number, ActivityBucket>();
      const at = (bucket: number) => {
        const b = Number(bucket);
        let found = buckets.get(b);
        if (!found) {
          found = {
            start: since + b * bucketMs,
            issuedByState: {},
            completionTokens: 0,
            ttftP50Ms: null,
            ttftP95Ms: null,
          };
          buckets.set(b, found);
        }
        return found;
      };
      for (const r of issued) at(r.bucket).issuedByState[r.state] = Number(r.n);
      for (const r of finished) at(r.bucket).completionTokens = Number(r.tokens);
      for (const r of ttft) {
        const b = at(r.bucket);
        const n = Number(r.n);
        const rn = Number(r.rn);
        if (rn === Math.floor((n * 50 + 99) / 100)) b.ttftP50Ms = Number(r.ttft);
        if (rn === Math.floor((n * 95 + 99) / 100)) b.ttftP95Ms = Number(r.ttft);
      }
      return [...buckets.values()].sort((a, b) => a.start - b.start);
    },
  };
}
