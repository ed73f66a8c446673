"use server";

import { defineAction } from "@/lib/actions/action";
import { pickerQuerySchema, searchPickableAssets } from "@/lib/assets/picker";
import { deleteConnection, reconnectConnection, saveConnection } from "./mutations";
import { authorizeAgain, startOAuthAuthorization } from "./oauth";
import { refreshConnection } from "./runtime";
import { connectionIdSchema, saveConnectionSchema } from "./schemas";

/** Connect (create or edit): resolves, tests against the target, saves references only. */
export const saveConnectionAction = defineAction(saveConnectionSchema, (input, ctx) => saveConnection(ctx, input, { startAuthorization: (id, config) => startOAuthAuthorization(ctx, id, config) }));
export const reconnectConnectionAction = defineAction(connectionIdSchema, (input, ctx) => reconnectConnection(ctx, input));
/** A new authorisation request for an OAuth app connection still waiting for one. */
export const authorizeConnectionAction = defineAction(connectionIdSchema, (input, ctx) => authorizeAgain(ctx, input));
export const deleteConnectionAction = defineAction(connectionIdSchema, (input, ctx) => deleteConnection(ctx, input));
/** The "Use credential asset" picker's search (assets from every folder the person may use). */
export const searchPickableAssetsAction = defineAction(pickerQuerySchema, (input, ctx) => searchPickableAssets(ctx.actor, input));
/** Clears the connection's cached secrets on every instance; it stays connected. */
export const refreshConnectionAction = defineAction(connectionIdSchema, (input, ctx) => refreshConnection(ctx, input));
