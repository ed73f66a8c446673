/**
 * Before each test file, in its worker: point DATABASE_URL at this worker's own database
 * (test/global-setup.ts made one per worker). lib/db reads the variable at first use, after this.
 */
const urls = JSON.parse(process.env.LATCH_TEST_DATABASE_URLS ?? "[]") as string[];
const worker = Number(process.env.VITEST_POOL_ID ?? 1);
if (urls.length > 0) process.env.DATABASE_URL = urls[(worker - 1) % urls.length];
