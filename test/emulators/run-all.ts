/**
 * `npm run emulators`: every store emulator with a demo data set, for trying each store kind by
 * hand. Prints how to register each one in the console; Ctrl-C stops them.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { seedDemoAws, startAwsEmulator } from "./aws";
import { seedDemoCyberark, startCyberarkEmulator } from "./cyberark";
import { createTestPki } from "./tls";

async function main() {
  const pki = createTestPki();
  const caFile = path.join(pki.dir, "latch-test-ca.pem");
  writeFileSync(caFile, pki.caCert);
  const started = [
    { name: "AWS Secrets Manager", emulator: await startAwsEmulator({ pki }), seed: seedDemoAws },
    { name: "CyberArk CCP", emulator: await startCyberarkEmulator({ pki }), seed: seedDemoCyberark },
  ] as const;

  const lines = [
    "Latch store emulators are running (127.0.0.1 only). They use a throwaway test CA:",
    `  paste ${caFile} into each store's "CA bundle (PEM)" field.`,
    "",
  ];
  for (const { name, emulator, seed } of started) {
    const demo = await (seed as (e: typeof emulator, p: typeof pki) => Promise<{ instructions: string }>)(emulator, pki);
    lines.push(`== ${name} (control API: ${emulator.controlUrl}/_control/)`, demo.instructions, "");
  }
  lines.push("Press Ctrl-C to stop.");
  process.stdout.write(`${lines.join("\n")}\n`);

  const stop = async () => {
    await Promise.all(started.map((s) => s.emulator.close()));
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
