import { z } from "zod";
import { defineStoreKind } from "../../descriptor";

const WHOLE_NUMBER = /^[1-9]\d{0,9}$/;

export const latchDescriptor = defineStoreKind({
  kind: "latch",
  label: "Latch Database",
  description: "Latch’s built-in encrypted store: values are sealed with AES-256-GCM under keys wrapped by LATCH_MASTER_KEY.",
  builtIn: true,
  supportsWrite: true,
  singleValue: false,
  reference: {
    nameLabel: "Secret name",
    writeNameLabel: "Secret name",
    nameHelp: "The name of a secret already kept in the Latch Database, e.g. finance/payroll-db.",
    namePlaceholder: "finance/payroll-db",
    nameNoun: "name",
    name: z.string().min(1, "Enter the name of the secret.").max(500, "Names can be at most 500 characters."),
    caseInsensitive: false,
    version: {
      mode: "single",
      label: "Version",
      help: "A version number (1, 2, 3, …). Leave empty to always use the latest.",
      placeholder: "Latest",
      rule: z.string().regex(WHOLE_NUMBER, "A version is a whole number such as 3; leave it empty for the latest."),
    },
    defaultKeys: { username: "username", password: "password" },
    hint: "A name for the secret, e.g. finance/payroll-db",
  },
  shape: {},
});
