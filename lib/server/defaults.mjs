/**
 * Defaults of the settings server.mjs needs before (or without) instrumentation.ts, in one place for
 * lib/env.ts and server.mjs: plain JavaScript, since server.mjs cannot import TypeScript.
 */

/** LATCH_SHUTDOWN_GRACE_SECONDS: an invoke's default limit of 30 s, its audit row's wait, and closing. */
export const DEFAULT_GRACE_SECONDS = 45;

/**
 * LATCH_KEEP_ALIVE_SECONDS: longer than the idle timeout of the proxies Latch usually sits behind (AWS
 * ALB 60 s, nginx's upstream keepalive_timeout 60 s), so that the proxy, not Latch, closes an idle
 * connection. The other way round, a proxy can send a request on a connection Latch is closing at
 * that moment, and answers 502. Node's own default is 5 s.
 */
export const DEFAULT_KEEP_ALIVE_SECONDS = 65;
