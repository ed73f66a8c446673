import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { connectOutcomeSchema } from "@/lib/connections/dto";
import { reconnectConnection } from "@/lib/connections/mutations";
import { idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** Connects with the saved settings and reports; the connection's status is updated either way (409 when an edit, an authorisation or another test overtook it, or the owner is deactivated). */
export const POST = defineRoute(
  {
    method: "POST",
    path: "/connections/{connectionId}/test",
    summary: "Test a connection",
    description:
      "Connects with the saved settings and reports the outcome (a failure is a 200 with ok: false); the connection's status is updated either way. If its connector settings or secret sources are edited while the test runs, or another status is recorded meanwhile (an OAuth authorisation that completed, another test that finished first), the outcome is not recorded and the answer is a 409: test it again. A connection whose owner is deactivated cannot be tested either (409) until someone who may use its assets saves it in the console, taking it over.",
    tags: ["Connections"],
    // The owner, not the caller, needs assets.use: the secrets are resolved on the owner's behalf.
    access: { kind: "folder", permission: "connections.use", on: "connection" },
    params: z.object({ connectionId: idSchema }),
    response: connectOutcomeSchema,
    errors: [409, 429],
  },
  // `reason`, as in an error body: a failed test is a 200, but says what failed in the same words.
  async (ctx) => {
    const outcome = await reconnectConnection(ctx, { connectionId: ctx.params.connectionId });
    return outcome.ok ? outcome : { ...outcome, reason: outcome.kind };
  },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
