import "server-only";
import { z } from "zod";
import { CONNECTOR_KINDS, getConnectorOrThrow } from "./registry";
import type { Connector } from "./types";

/** The connector catalogue for the REST API: fields (none of them holds a value) and operations. */

const fieldSchema = z.object({
  name: z.string(),
  label: z.string(),
  type: z.enum(["text", "number", "select", "boolean", "secret"]).meta({ description: "secret: given as an asset or a typed value, never returned." }),
  required: z.boolean().optional(),
  help: z.string().optional(),
  placeholder: z.string().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  options: z.array(z.object({ value: z.string(), label: z.string() })).optional(),
  showWhen: z.object({ field: z.string(), equals: z.array(z.string()) }).optional(),
  usernameField: z.string().optional(),
});

export const connectorSchema = z.object({
  kind: z.string(),
  label: z.string(),
  description: z.string(),
  fields: z.array(fieldSchema),
  operations: z.array(
    z.object({
      name: z.string().meta({ description: "Pass it as `operation` to POST /connections/{connectionId}/invoke." }),
      label: z.string(),
      description: z.string(),
      input: z.record(z.string(), z.unknown()).meta({ description: "JSON Schema (2020-12) of the invoke body's `input`." }),
      output: z.record(z.string(), z.unknown()).meta({ description: "JSON Schema (2020-12) of the invoke answer's `result`." }),
    }),
  ),
});
export type ConnectorDto = z.output<typeof connectorSchema>;

export const connectorListResponseSchema = z.object({ connectors: z.array(connectorSchema) });

/** The input JSON Schema of an operation, generated from the zod schema its run() validates with. */
export function operationInputSchema(input: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(input, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

/** The JSON Schema of an operation's result, from the zod schema that types what its run() returns. */
export function operationOutputSchema(output: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(output, { target: "draft-2020-12", io: "output", unrepresentable: "any" }) as Record<string, unknown>;
}

export function toConnectorDto(connector: Connector): ConnectorDto {
  return {
    kind: connector.kind,
    label: connector.label,
    description: connector.description,
    fields: connector.fields.map((f) => ({ ...f })),
    operations: Object.entries(connector.operations).map(([name, op]) => ({
      name,
      label: op.label,
      description: op.description,
      input: operationInputSchema(op.input),
      output: operationOutputSchema(op.output),
    })),
  };
}

let cached: ConnectorDto[] | undefined;

/** Static for the life of the process. */
export function listConnectorDtos(): ConnectorDto[] {
  cached ??= CONNECTOR_KINDS.map((kind) => toConnectorDto(getConnectorOrThrow(kind)));
  return cached;
}
