/**
 * `npm run emulators`: every store emulator with a demo data set, for trying each store kind by
 * hand. Prints how to register each one in the console; Ctrl-C stops them.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { seedDemoAws, startAwsEmulator } from "./aws";
import { seedDemoAzure, startAzureEmulator } from "./azure";
import { seedDemoCyberark, startCyberarkEmulator } from "./cyberark";
import { seedDemoHashicorp, startHashicorpEmulator } from "./hashicorp";
import { createTestPki } from "./tls";

async function main() {
  const pki = createTestPki();
  const caFile = path.join(pki.dir, "latch-test-ca.pem");
  writeFileSync(caFile, pki.caCert);
  const aws = await startAwsEmulator({ pki });
  const ccp = await startCyberarkEmulator({ pki });
  const azure = await startAzureEmulator({ pki });
  const vault = await startHashicorpEmulator({ pki });
  const started = [
    { name: "HashiCorp Vault", emulator: vault, demo: seedDemoHashicorp(vault) },
    { name: "AWS Secrets Manager", emulator: aws, demo: seedDemoAws(aws, pki) },
    { name: "Azure Key Vault", emulator: azure, demo: seedDemoAzure(azure) },
    { name: "CyberArk CCP", emulator: ccp, demo: seedDemoCyberark(ccp) },
  ];

  const lines = [
    "Latch store emulators are running (127.0.0.1 only). They use a throwaway test CA:",
    `  paste ${caFile} into each store's "CA bundle (PEM)" field.`,
    "",
  ];
  for (const { name, emulator, demo } of started) {
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
