// Bindings the workers tests see (wrangler.toml plus test-only bindings).
declare namespace Cloudflare {
  interface Env {
    DB: D1Database;
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    TICKET_PRIVATE_KEY: string;
    JOIN_TOKEN: string;
  }
}
