// Wraps a D1 binding and adds up D1's own `rows_written` (indexes included, as billed).
type Meta = { meta?: { rows_written?: number } };

export function countingD1(db: D1Database): { db: D1Database; rowsWritten: number } {
  const counter = { db, rowsWritten: 0 };
  const add = <T>(p: Promise<T>): Promise<T> =>
    p.then((r) => {
      counter.rowsWritten += (r as Meta).meta?.rows_written ?? 0;
      return r;
    });
  const wrapStatement = (stmt: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'bind') return (...args: unknown[]) => wrapStatement(target.bind(...args));
        if (prop === 'run' || prop === 'all') {
          return () => add((target[prop] as () => Promise<unknown>).call(target));
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  counter.db = new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return (query: string) => wrapStatement(target.prepare(query));
      if (prop === 'batch') {
        return (stmts: D1PreparedStatement[]) =>
          target.batch(stmts).then((rs) => {
            for (const r of rs) counter.rowsWritten += (r as Meta).meta?.rows_written ?? 0;
            return rs;
          });
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return counter;
}
