import { z } from "zod";
import { defineStoreKind } from "../../descriptor";
import { secret, setting, USER_INFO_MESSAGE, withoutUserInfo } from "../../fields";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalText = (schema: z.ZodString) => z.preprocess(blankToUndefined, schema.optional());
const httpsUrl = () => z.url({ protocol: /^https?$/, error: "Enter a full URL, e.g. https://secretsmanager.eu-west-1.amazonaws.com" }).refine(withoutUserInfo, USER_INFO_MESSAGE);
const onAssumeRole = { field: "auth", equals: ["assume_role"] };

export const awsDescriptor = defineStoreKind({
  kind: "aws",
  label: "AWS Secrets Manager",
  description: "Reads secrets from AWS Secrets Manager with an IAM access key, optionally assuming a role through STS.",
  supportsWrite: true,
  singleValue: false,
  reference: {
    nameLabel: "Secret ID",
    writeNameLabel: "Secret name to write to",
    nameHelp: "The secret's name (e.g. prod/payroll-db) or its full ARN.",
    namePlaceholder: "prod/payroll-db",
    nameNoun: "name",
    name: z
      .string()
      .min(1, "Enter the secret's name or ARN.")
      .max(2048, "A secret ID can be at most 2048 characters.")
      .refine(
        (v) => (v.startsWith("arn:") ? /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/.test(v) : /^[\w/+=.@-]{1,512}$/.test(v)),
        "A secret ID is a name of letters, digits and /_+=.@- (e.g. prod/payroll-db), or an ARN such as arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/payroll-db-AbCdEf.",
      ),
    caseInsensitive: false,
    version: {
      mode: "stageOrId",
      current: "Current (AWSCURRENT)",
      choices: [
        { value: "latest", label: "Current", description: "Always the version labelled AWSCURRENT." },
        { value: "stage", label: "Staging label", description: "The version carrying a label, e.g. AWSPREVIOUS." },
        { value: "id", label: "Version ID", description: "One fixed version, by its ID." },
      ],
      unsaid: "Choose whether the version is a staging label or a version ID.",
      notWithCurrent: "Leave the version empty to use the current version, or choose a staging label or version ID.",
      stage: {
        label: "Staging label",
        help: "A label attached to one version, e.g. AWSPREVIOUS or a custom label. Labels are case-sensitive.",
        placeholder: "AWSPREVIOUS",
        rule: z.string().min(1, "Enter the staging label, e.g. AWSPREVIOUS.").regex(/^[\w+=,.@-]{1,256}$/, "A staging label is 1–256 letters, digits and _+=,.@-, e.g. AWSPREVIOUS."),
      },
      id: {
        label: "Version ID",
        help: "The VersionId shown in the secret's versions (usually a UUID).",
        placeholder: "a1b2c3d4-…",
        rule: z.string().min(1, "Enter the version ID.").regex(/^[\w-]{32,64}$/, "A version ID is 32–64 letters, digits and hyphens, such as a UUID."),
      },
    },
    defaultKeys: { username: "username", password: "password" },
    hint: "Secret name or ARN, e.g. prod/payroll-db; version: a staging label (AWSCURRENT, AWSPREVIOUS) or a version ID",
  },
  shape: {
    region: setting(z.string({ error: "Enter an AWS region code, e.g. eu-west-1" }).trim().regex(/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/, "Enter an AWS region code, e.g. eu-west-1"), {
      label: "Region",
      placeholder: "eu-west-1",
      help: "The AWS region that holds the secrets, e.g. eu-west-1. Secrets Manager is regional: a secret in another region is not found.",
    }),
    auth: setting(z.enum(["access_key", "assume_role"]).default("access_key"), {
      label: "Authentication",
      options: [{ value: "access_key", label: "Access key" }, { value: "assume_role", label: "Access key, then assume a role" }],
      help: "Latch always signs with the access key below; it never uses instance profiles or environment credentials. With “assume a role” it first calls STS AssumeRole and reads secrets with short-lived role credentials.",
    }),
    accessKeyId: setting(z.string({ error: "Enter the access key ID." }).trim().regex(/^[A-Z0-9]{16,128}$/, "An access key ID looks like AKIA… (letters and digits only)"), {
      label: "Access key ID",
      placeholder: "AKIA…",
      help: "The access key of an IAM user dedicated to Latch. It needs secretsmanager:GetSecretValue on the secrets (and kms:Decrypt if they use a customer-managed key), or sts:AssumeRole on the role below.",
    }),
    secretAccessKey: secret(z.string({ error: "Paste the secret access key that belongs to the access key ID" }).trim().min(16, "Paste the secret access key that belongs to the access key ID"), {
      label: "Secret access key",
      help: "Shown once by AWS when the access key was created. Stored encrypted and never shown again.",
    }),
    roleArn: setting(optionalText(z.string().trim().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, "A role ARN looks like arn:aws:iam::123456789012:role/latch-reader")), {
      label: "Role ARN",
      placeholder: "arn:aws:iam::123456789012:role/latch-reader",
      showWhen: onAssumeRole,
      requiredWhenShown: "Enter the ARN of the role Latch should assume.",
      help: "The role Latch assumes. Its trust policy must allow the access key's IAM user; its permissions policy grants access to the secrets.",
    }),
    externalId: setting(optionalText(z.string().trim().regex(/^[\w+=,.@:/-]{2,1224}$/, "2–1224 letters, digits or +=,.@:/-")), {
      label: "External ID",
      showWhen: onAssumeRole,
      help: "Only if the role's trust policy requires an sts:ExternalId condition; enter the same value here.",
    }),
    roleSessionName: setting(z.preprocess(blankToUndefined, z.string().trim().regex(/^[\w+=,.@-]{2,64}$/, "2–64 letters, digits or +=,.@-").default("latch")), {
      label: "Role session name",
      placeholder: "latch",
      showWhen: onAssumeRole,
      help: "Appears in CloudTrail as the session that read each secret. Defaults to “latch”.",
    }),
    endpoint: setting(z.preprocess(blankToUndefined, httpsUrl().optional()), {
      label: "Secrets Manager endpoint",
      input: "url",
      locator: true,
      placeholder: "https://secretsmanager.eu-west-1.amazonaws.com",
      help: "Leave empty to use the region's public endpoint. Set it for a VPC interface endpoint (https://vpce-….secretsmanager.eu-west-1.vpce.amazonaws.com) or a compatible service.",
    }),
    stsEndpoint: setting(z.preprocess(blankToUndefined, httpsUrl().optional()), {
      label: "STS endpoint",
      input: "url",
      locator: true,
      placeholder: "https://sts.eu-west-1.amazonaws.com",
      showWhen: onAssumeRole,
      help: "Leave empty to use the region's STS endpoint. Set it for an STS VPC endpoint.",
    }),
  },
});

export const awsConfigSchema = awsDescriptor.configSchema;
export const awsSecretSchema = awsDescriptor.secretSchema;
