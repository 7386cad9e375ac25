// better-sqlite3 compiles a statement on every `prepare`; drizzle prepares each query anew. This
// keeps the compiled statements by their SQL text (bounded, least recently used out first), so the
// hot queries — heartbeats, leases — are compiled once per process. The SQL carries no values
// (drizzle binds them as parameters), so the texts are few: one per query shape.
import type { Database, Statement } from 'better-sqlite3';

export function cachePreparedStatements(sqlite: Database, capacity = 512): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const bySql = new Map<string, Statement>();
  sqlite.prepare = ((source: string) => {
    let stmt = bySql.get(source);
    if (stmt === undefined) {
      stmt = prepare(source);
      if (bySql.size >= capacity) {
        const oldest = bySql.keys().next().value;
        if (oldest !== undefined) bySql.delete(oldest);
      }
    } else {
      bySql.delete(source);
    }
    bySql.set(source, stmt);
    // drizzle switches a statement to array rows (`raw()`) for its own mapping; a fresh prepare
    // returns objects, and so must a reused one.
    if (stmt.reader) stmt.raw(false);
    return stmt;
  }) as Database['prepare'];
}
