// Barrel for the drizzle schema.
export * from './tables.ts';
