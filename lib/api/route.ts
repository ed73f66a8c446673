import "server-only";
import { z } from "zod";
import type { ActionOptions } from "@/lib/actions/action";
import { AppError } from "@/lib/errors";
import { apiHandler } from "./handler";
import type { Documented, OperationSpec } from "./openapi";

type Run<P, Q, B> = Parameters<typeof apiHandler<P, Q, B>>[1];

/**
 * An operation's spec, with the schemas typed so the handler's params, query and body follow from them.
 * `access` (OperationSpec) is required: every route says what a token needs to call it.
 */
export type RouteSpec<P, Q, B> = Omit<OperationSpec, "params" | "query" | "body"> & {
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
} & ActionOptions;

/**
 * apiHandler plus its OpenAPI entry: the schemas that validate the request are the ones documented,
 * and the spec travels on the exported handler for app/api/v1/openapi.json to collect.
 */
export function defineRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>, run: Run<P, Q, B>) {
  // A body's unknown keys are refused, not dropped: a misspelt or misplaced setting would otherwise be ignored without a word.
  const body = (spec.body instanceof z.ZodObject ? spec.body.strict() : spec.body) as z.ZodType<B> | undefined;
  // So are a list's unknown query parameters: ?search=pg for ?q=pg would otherwise answer everything, unfiltered.
  // A route whose caller adds parameters of its own (an OAuth callback) says so with z.looseObject.
  const query = (spec.query instanceof z.ZodObject && spec.query.def.catchall === undefined ? spec.query.strict() : spec.query) as z.ZodType<Q> | undefined;
  const { authorize: ownCheck, ...rest } = spec;
  // What no token may do says so, rather than "not found" or a refusal of the body it was sent.
  const tokensRefused = spec.access.kind === "session" || spec.access.kind === "admin";
  const refusal = `${spec.summary}: not open to API tokens; ${spec.access.kind === "admin" ? "a tenant administrator does this" : "do this"} signed in to the console.`;
  const authorize: ActionOptions["authorize"] = tokensRefused
    ? async (actor) => {
        if (actor.scope) throw new AppError("NOT_FOUND", refusal);
        await ownCheck?.(actor);
      }
    : ownCheck;
  const documented = body ? { ...rest, body } : rest;
  const handler = apiHandler<P, Q, B>({ params: spec.params, query, body }, run, {
    ...(spec.status && spec.status !== 200 ? { status: spec.status } : {}),
    ...(authorize ? { authorize } : {}),
  });
  // Refused callers get 404, whatever the route's own errors.
  const openapi: Documented["openapi"] = authorize ? { ...documented, errors: [...new Set([...(documented.errors ?? []), 404 as const])] } : documented;
  return Object.assign(handler, { openapi });
}
