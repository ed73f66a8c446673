// `node --import ./test/server-stub/register.mjs server.mjs`: server.mjs with test/server-stub/next.mjs
// in place of Next, so server.test.ts can drive the real server.mjs without a build.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
