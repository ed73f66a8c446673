import { defineStoreKind } from "../../descriptor";

export const latchDescriptor = defineStoreKind({
  kind: "latch",
  label: "Latch Database",
  description: "Latch’s built-in encrypted store: values are sealed with AES-256-GCM under keys wrapped by LATCH_MASTER_KEY.",
  builtIn: true,
  supportsWrite: true,
  singleValue: false,
  defaultKeys: { username: "username", password: "password" },
  referenceHint: "A name for the secret, e.g. finance/payroll-db",
  shape: {},
});
