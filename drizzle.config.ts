// drizzle-kit: generates SQL migrations from schema/ into migrations/ (also wrangler's migrations_dir).
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './schema/tables.ts',
  out: './migrations',
});
