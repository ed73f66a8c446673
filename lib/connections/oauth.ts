import "server-only";
import { timingSafeEqual } from "node:crypto";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertCanOnFolder } from "@/lib/authz";
import { buildAuthorizeUrl, createPkce, exchangeCode, tokenStateToRecord } from "@/lib/connectors/oauth2";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { conflict, notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { logger } from "@/lib/log";
import { withCredentials } from "./credentials";
import { describeFailure, fieldSummary, newAuthorizationNonce, outcomeFor, reconnectConnection, sourcesOf, WAITING_FOR_AUTHORIZATION } from "./mutations";
import { NO_STATE, openState, sameBytes, sealState } from "./state";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

/** Where the app sends the browser back; register this as the app's redirect URI. */
export function oauthRedirectUri(origin?: string): string {
  const base = env().NEXTAUTH_URL ?? origin ?? "http://localhost:3000";
  return new URL("/api/v1/connections/oauth/callback", base).toString();
}

/**
 * Authorization code with PKCE. The `state` parameter is "<connection id>.<nonce>"; the nonce, the
 * PKCE verifier and who started it are kept sealed in the connection's state until the browser comes
 * back. Only that person may finish it: another editor who got hold of the callback's address cannot
 * have the app's answer recorded under someone else's name.
 */
export async function startOAuthAuthorization(ctx: Ctx, connectionId: string, config: Record<string, unknown>) {
  const pkce = createPkce();
  const nonce = newAuthorizationNonce();
  const redirectTo = buildAuthorizeUrl(config as never, { state: `${connectionId}.${nonce}`, codeChallenge: pkce.challenge, redirectUri: oauthRedirectUri() });
  return { redirectTo, state: { pendingNonce: nonce, pendingVerifier: pkce.verifier, pendingSince: new Date().toISOString(), pendingBy: ctx.actor.id } };
}

/**
 * "Authorise the app" on a connection still waiting for it (the person declined at the app's sign-in,
 * or never got there), or whose tokens the app refuses (revoked): a new authorisation request,
 * without editing the connection. Not for one whose tokens still work, so nothing working is given
 * up; the kept settings are the ones used.
 */
export async function authorizeAgain(ctx: Ctx, input: { connectionId: string }): Promise<{ ok: true; connectionId: string; redirectTo: string }> {
  const connection = isUuid(input.connectionId) ? await db().connection.findUnique({ where: { id: input.connectionId } }) : null;
  if (!connection) throw notFound("Connection");
  await assertCanOnFolder(db(), ctx.actor, "connections.write", connection.folderId, "Connection");
  const config = (connection.config ?? {}) as Record<string, unknown>;
  if (connection.connectorKind !== "oauth2" || config.grant !== "authorization_code") throw conflict("Only an OAuth app connection with the authorization code grant is authorised in the app's sign-in page.");
  const refused = connection.status === "FAILED" && connection.lastErrorKind === "credentials_rejected";
  if ((await openState(connection))?.accessToken && !refused) throw conflict("The app is already authorised: Reconnect tests it. To authorise it again, as another account, edit the connection and save it.");
  const started = await startOAuthAuthorization(ctx, connection.id, config);
  await db().$transaction(async (tx) => {
    // Against an edit or a completed authorisation meanwhile: the same row, still without tokens.
    await tx.$queryRaw`SELECT 1 FROM "connections" WHERE "id" = ${connection.id}::uuid FOR UPDATE`;
    const current = await tx.connection.findUnique({ where: { id: connection.id } });
    if (!current || current.settingsVersion !== connection.settingsVersion || !sameBytes(current.stateCiphertext, connection.stateCiphertext)) throw conflict(SUPERSEDED);
    await tx.connection.update({
      where: { id: connection.id },
      data: { status: "PENDING_AUTHORIZATION", lastCheckAt: new Date(), lastMessage: WAITING_FOR_AUTHORIZATION, lastErrorKind: null, ...(await sealState(connection.id, started.state, tx)) },
    });
  });
  return { ok: true, connectionId: connection.id, redirectTo: started.redirectTo };
}

const PENDING_MAX_AGE_MS = 15 * 60 * 1000;

const SUPERSEDED = "The connection was authorised again, or edited, while this authorisation finished; the newer one applies. Finish that one, or start again from the connection.";

/**
 * The pending authorisation the callback's state names, used up: the caller must hold
 * connections.write on the connection's folder and the state must match an authorisation the caller
 * started within PENDING_MAX_AGE_MS; otherwise, and for a second callback with the same state (a reload, a
 * double submit, a replay), not found. Used up before a code is exchanged, so a code is never spent
 * twice, which makes the app revoke the tokens it issued for it.
 */
async function takePendingAuthorization(ctx: Ctx, state: string) {
  const [connectionId, nonce] = state.split(".");
  const connection = connectionId && isUuid(connectionId) ? await db().connection.findUnique({ where: { id: connectionId }, include: { secrets: true } }) : null;
  if (!connection || connection.connectorKind !== "oauth2") throw notFound("Connection");
  await assertCanOnFolder(db(), ctx.actor, "connections.write", connection.folderId, "Connection");
  const pending = await openState(connection);
  const expected = Buffer.from(pending?.pendingNonce ?? "");
  const given = Buffer.from(nonce ?? "");
  const fresh = pending?.pendingSince && Date.now() - Date.parse(pending.pendingSince) < PENDING_MAX_AGE_MS;
  if (!pending?.pendingVerifier || !fresh || pending.pendingBy !== ctx.actor.id || expected.length === 0 || expected.length !== given.length || !timingSafeEqual(expected, given)) throw notFound("Authorisation request");
  const { count } = await db().connection.updateMany({ where: { id: connection.id, stateCiphertext: { equals: connection.stateCiphertext! } }, data: NO_STATE });
  if (count !== 1) throw notFound("Authorisation request");
  return { connection, verifier: pending.pendingVerifier };
}

const authorizeAudit = (ctx: Ctx, connection: { id: string; name: string; folderId: string }) =>
  ({ actor: ctx.actor, action: "connection.authorize", target: { type: "connection", id: connection.id, label: connection.name }, folderId: connection.folderId, requestId: ctx.requestId }) as const;

/**
 * The callback without a code: the person declined in the app (`error=access_denied`), or the app
 * refused the request. The authorisation is used up and the refusal audited; the connection keeps
 * waiting, so Authorise the app starts a new one.
 */
export async function declineOAuthAuthorization(ctx: Ctx, input: { state: string; error: string | undefined }) {
  const { connection } = await takePendingAuthorization(ctx, input.state);
  const declined = input.error === "access_denied";
  await recordAuditEvent(db(), { ...authorizeAudit(ctx, connection), outcome: "FAILURE", details: { connector: "oauth2", fields: fieldSummary(connection.secrets), failure: declined ? "declined" : "app_refused" } });
  return { connectionId: connection.id, declined };
}

/** The callback with a code: checks the state against the pending authorisation, exchanges the code, keeps the tokens sealed. */
export async function finishOAuthAuthorization(ctx: Ctx, input: { state: string; code: string }) {
  const { connection, verifier } = await takePendingAuthorization(ctx, input.state);
  const config = connection.config as Record<string, unknown>;
  const fields = fieldSummary(connection.secrets);
  const audit = authorizeAudit(ctx, connection);
  try {
    const tokens = await withCredentials(sourcesOf(connection), { ...ctx, purpose: "oauth_code_exchange" }, (resolved) =>
      exchangeCode(config as never, resolved.secrets.clientSecret ?? "", { code: input.code, codeVerifier: verifier, redirectUri: oauthRedirectUri(), timeoutMs: 15_000 }),
    );
    // Sealing the tokens also ends any lease: a renewal of the previous grant stores nothing over them.
    const sealed = await sealState(connection.id, tokenStateToRecord(tokens));
    const stored = await db().$transaction(async (tx) => {
      const now = new Date();
      // Only over the state this callback used up: an authorisation started (or an edit saved) while
      // the code was being exchanged owns the connection now, and these tokens are for the one before.
      const { count } = await tx.connection.updateMany({
        where: { id: connection.id, stateCiphertext: null },
        data: { status: "CONNECTED", lastConnectedAt: now, lastCheckAt: now, lastMessage: "Authorised; tokens kept encrypted.", lastErrorKind: null, ...sealed },
      });
      await recordAuditEvent(tx, { ...audit, ...(count ? {} : { outcome: "FAILURE" as const }), details: { connector: "oauth2", fields, ...(count ? {} : { failure: "superseded" }) } });
      return count === 1;
    });
    if (!stored) return { ok: false as const, connectionId: connection.id, message: SUPERSEDED };
    // With a test path, the API is tried now with the new token, as Connect does for client credentials:
    // a wrong path or a missing scope shows on the connection at once, not at its first invoke. The
    // authorisation stands either way; a test that cannot run now (rate-limited) leaves "Authorised".
    if (typeof config.testPath === "string" && config.testPath.trim() !== "") {
      await reconnectConnection(ctx, { connectionId: connection.id }).catch((error: unknown) => logger().warn({ err: error, connectionId: connection.id }, "could not test a connection just authorised; it stays marked authorised"));
    }
    return { ok: true as const, connectionId: connection.id };
  } catch (error) {
    // The app refused the code or the client secret, or the secret's store failed: the connection shows why.
    const failure = describeFailure(error, connection.id);
    if (!failure || failure.ok) throw error;
    await db().$transaction(async (tx) => {
      // As above: a newer authorisation or edit keeps its own status.
      await tx.connection.updateMany({ where: { id: connection.id, stateCiphertext: null }, data: { status: "FAILED", lastCheckAt: new Date(), lastMessage: failure.message.slice(0, 500), lastErrorKind: failure.kind } });
      await recordAuditEvent(tx, { ...audit, outcome: "FAILURE", details: { connector: "oauth2", fields, failure: failure.kind } });
    });
    const { message } = await outcomeFor(ctx.actor, connection.secrets.map((s) => s.assetId), failure);
    return { ok: false as const, connectionId: connection.id, message };
  }
}
