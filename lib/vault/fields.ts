import { z } from "zod";

/**
 * A store kind's settings are one zod shape, in form order. Each field carries its form metadata in
 * the `storeFieldMeta` registry, so label, help, options, required-ness and write-only-ness are
 * defined once, beside the validation, and the admin form is derived from them. Client-safe: no
 * server imports, so provider descriptors (and the form) can use it anywhere.
 */

export type InputKind = "text" | "url" | "number" | "select" | "textarea" | "boolean" | "file" | "pem";
export type ShowWhen = { field: string; equals: string[] };

export type FieldMeta = {
  label: string;
  help?: string;
  placeholder?: string;
  /** How the form asks for it. When absent: enum → select, boolean → checkbox, number → number, else text. */
  input?: InputKind;
  /** Shown, and validated, only when another field has one of these values. */
  showWhen?: ShowWhen;
  /** With showWhen: the field must be filled in whenever it is shown; this is the field error otherwise. */
  requiredWhenShown?: string;
  /**
   * Enum fields: every option's label, in display order (an array: object keys that look like
   * numbers would be reordered). The values must be exactly the enum's.
   */
  options?: { value: string; label: string }[];
  /** File inputs: accepted extensions, e.g. ".pem,.crt". */
  accept?: string;
  /**
   * Decides where credentials are sent (an address, an endpoint, an authority). Changing it means
   * every stored secret must be entered again, so a changed address never receives them unasked.
   */
  locator?: boolean;
  /**
   * Locators that also take a bare name: the URL a name stands for, with {name} in it (Azure:
   * "https://{name}.vault.azure.net"). A name and that URL are one address, not a change.
   */
  nameUrl?: string;
};

type Stored = FieldMeta & { secret: boolean };

export const storeFieldMeta = z.registry<Stored>();

declare const SECRET: unique symbol;
/** Type-level mark of a write-only field, so a descriptor's shape splits into config and secrets. */
export type SecretField<T extends z.ZodType = z.ZodType> = T & { readonly [SECRET]: true };

/** A setting stored as plain JSON and shown in the edit form. */
export function setting<T extends z.ZodType>(schema: T, meta: FieldMeta): T {
  storeFieldMeta.add(schema, { ...meta, secret: false });
  return schema;
}

/** A write-only setting: sealed with the store's secrets, never sent back to the browser. */
export function secret<T extends z.ZodType>(schema: T, meta: Omit<FieldMeta, "locator" | "nameUrl">): SecretField<T> {
  storeFieldMeta.add(schema, { ...meta, secret: true });
  return schema as SecretField<T>;
}

/** What the admin form knows about one field: plain data, derived from the schema and its metadata. */
export type FieldSpec = {
  name: string;
  label: string;
  help?: string;
  placeholder?: string;
  type: InputKind;
  /** Write-only: stored encrypted, never sent back to the browser. */
  secret: boolean;
  /** Must be filled in (when shown, for fields with showWhen). Optional write-only fields can be removed. */
  required: boolean;
  options?: { value: string; label: string }[];
  /** The schema's default, which a new store's form starts with. */
  default?: string | number | boolean;
  showWhen?: ShowWhen;
  accept?: string;
  locator: boolean;
  nameUrl?: string;
};

type Def = { type: string; in?: z.ZodType; out?: z.ZodType; innerType?: z.ZodType; entries?: Record<string, string> };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema that decides the field's shape: through defaults, optionals, preprocessing and transforms. */
function core(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 16; i++) {
    const def = defOf(s);
    if (def.type === "pipe") s = defOf(def.in!).type === "transform" ? def.out! : def.in!;
    else if (def.innerType && ["default", "prefault", "optional", "nullable", "catch", "readonly", "nonoptional"].includes(def.type)) s = def.innerType;
    else return s;
  }
  return s;
}

export function enumValues(schema: z.ZodType): string[] | null {
  const def = defOf(core(schema));
  return def.type === "enum" && def.entries ? Object.values(def.entries).map(String) : null;
}

export function describeField(name: string, schema: z.ZodType): FieldSpec {
  const meta = storeFieldMeta.get(schema);
  if (!meta) throw new Error(`Store field “${name}” has no form metadata: wrap its schema in setting() or secret().`);
  const values = enumValues(schema);
  if (values) {
    const labelled = (meta.options ?? []).map((o) => o.value);
    if (labelled.length !== values.length || values.some((v) => !labelled.includes(v))) {
      throw new Error(`Store field “${name}”: label exactly the options ${[...values].sort().join(", ")}.`);
    }
  }
  const coreType = defOf(core(schema)).type;
  const type: InputKind = meta.input ?? (values ? "select" : coreType === "boolean" ? "boolean" : coreType === "number" ? "number" : "text");
  // Required means: an absent value does not pass (no default, not optional).
  const absent = schema.safeParse(undefined);
  const required = meta.showWhen ? !!meta.requiredWhenShown : !absent.success;
  const fallback = absent.success && ["string", "number", "boolean"].includes(typeof absent.data) ? (absent.data as string | number | boolean) : undefined;
  return {
    name,
    label: meta.label,
    ...(meta.help ? { help: meta.help } : {}),
    ...(meta.placeholder ? { placeholder: meta.placeholder } : {}),
    type,
    secret: meta.secret,
    required,
    ...(values ? { options: meta.options!.map(({ value, label }) => ({ value, label })) } : {}),
    ...(fallback !== undefined && !meta.secret ? { default: fallback } : {}),
    ...(meta.showWhen ? { showWhen: meta.showWhen } : {}),
    ...(meta.accept ? { accept: meta.accept } : {}),
    locator: !!meta.locator,
    ...(meta.nameUrl ? { nameUrl: meta.nameUrl } : {}),
  };
}

/**
 * A locator's value as the address it names, so one address written two ways is no change: scheme and
 * host case, a default port, trailing slashes, and (with nameUrl) a bare name and its URL. Anything that
 * is not a URL compares as written.
 */
export function canonicalLocator(f: Pick<FieldSpec, "nameUrl">, value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value).trim();
  if (!text) return "";
  const url = /^[a-z][a-z\d+.-]*:\/\//i.test(text) ? text : f.nameUrl ? f.nameUrl.replace("{name}", text) : null;
  if (!url || !URL.canParse(url)) return text;
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}${u.search}`;
}

/** Labels of the locators whose address differs between two sets of settings. */
export function movedLocators(fields: FieldSpec[], before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return fields.filter((f) => f.locator && canonicalLocator(f, before[f.name]) !== canonicalLocator(f, after[f.name])).map((f) => f.label);
}

export const isShown = (f: Pick<FieldSpec, "showWhen">, values: Record<string, unknown>) =>
  !f.showWhen || f.showWhen.equals.includes(String(values[f.showWhen.field] ?? ""));

const isBlank = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

/** Fields shown under these values that must be filled in but are blank: the field errors to report. */
export function missingWhenShown(shape: z.ZodRawShape, values: Record<string, unknown>): { name: string; message: string }[] {
  const out: { name: string; message: string }[] = [];
  for (const [name, schema] of Object.entries(shape)) {
    const meta = storeFieldMeta.get(schema as z.ZodType);
    if (meta?.showWhen && meta.requiredWhenShown && isShown(meta, values) && isBlank(values[name])) out.push({ name, message: meta.requiredWhenShown });
  }
  return out;
}

type SecretKeys<S> = { [K in keyof S]: S[K] extends { readonly [SECRET]: true } ? K : never }[keyof S];
export type ConfigShape<S> = Omit<S, SecretKeys<S>>;
export type SecretShape<S> = Pick<S, SecretKeys<S>>;

/**
 * Splits one shape into the config schema (stored as JSON) and the secret schema (sealed), both
 * checking "required when shown" for their own fields, and the form's field list in shape order.
 */
export function splitShape<S extends z.ZodRawShape>(shape: S) {
  const configEntries: [string, z.ZodType][] = [];
  const secretEntries: [string, z.ZodType][] = [];
  const fields = Object.entries(shape).map(([name, schema]) => {
    const spec = describeField(name, schema as z.ZodType);
    (spec.secret ? secretEntries : configEntries).push([name, schema as z.ZodType]);
    return spec;
  });
  const configShape = Object.fromEntries(configEntries);
  const configSchema = z.object(configShape).superRefine((config, ctx) => {
    for (const { name, message } of missingWhenShown(configShape, config)) ctx.addIssue({ code: "custom", path: [name], message });
  });
  const secretSchema = z.object(Object.fromEntries(secretEntries));
  return {
    configSchema: configSchema as unknown as z.ZodObject<ConfigShape<S>>,
    secretSchema: secretSchema as unknown as z.ZodObject<SecretShape<S>>,
    fields,
  };
}

/**
 * Store addresses never carry credentials: fetch refuses a URL with user info (so every call would
 * fail as if the network were down), and the settings, unlike secrets, are shown in the edit form.
 */
export const withoutUserInfo = (value: string): boolean => {
  try {
    const url = new URL(value);
    return !url.username && !url.password;
  } catch {
    return true; // the URL rule says what is wrong
  }
};
export const USER_INFO_MESSAGE = "Leave the user name and password out of the address: Latch signs in with the credentials entered below.";
