import { env, nextRuntime } from "@/lib/env";

export async function register() {
  if (nextRuntime() !== "nodejs") return;
  // Fail fast at start-up, naming the bad variable, instead of on the first request.
  env();
}
