// Preloaded by the run-time benchmarks (`tsx --require ./bench/preload.cjs`), which import lib/ from a
// plain script: `server-only` throws outside React Server Components, so it is resolved to its empty
// module here, as vitest's alias does. (`--conditions=react-server` would do the same, but it also gives
// `react` its server build, which the modules behind lib/actions cannot load outside Next.)
const Module = require("node:module");
const path = require("node:path");
const file = require.resolve("server-only");
const empty = new Module(file, module);
empty.filename = file;
empty.paths = Module._nodeModulePaths(path.dirname(file));
empty.exports = {};
empty.loaded = true;
require.cache[file] = empty;
