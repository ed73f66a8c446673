import "server-only";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { SIGN_IN_ERRORS } from "@/lib/auth/options";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { confirmFailure, reserveAttempt, settleSuccess } from "@/lib/auth/throttle";
import { assertTenant } from "@/lib/authz";
import { db, type Tx } from "@/lib/db";
import { isUniqueViolation } from "@/lib/db/errors";
import { AppError, conflict, notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { getClientAddress } from "@/lib/request-context";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

async function getUserOrThrow(tx: Tx, userId: string) {
  const user = isUuid(userId) ? await tx.user.findUnique({ where: { id: userId } }) : null;
  if (!user) throw notFound("User");
  return user;
}

/**
 * Changes that may take an administrator away (demote, deactivate) wait for one another here, before
 * they read the person, so two admins demoting each other at once cannot both see the other counted.
 */
async function serializeAdminChanges(tx: Tx) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('latch.last-admin'))`;
}

/**
 * The caller is still an active administrator, read under a share lock in this transaction. The actor
 * was read as the request began: a demotion or deactivation of the caller that commits meanwhile must
 * stop a request already under way (which could otherwise make the caller an administrator again, or
 * reactivate them). Changes to people are serialised as a whole, so two administrators changing each
 * other at once queue rather than deadlock on each other's rows.
 */
async function assertStillAdmin(tx: Tx, ctx: Ctx) {
  await serializeAdminChanges(tx);
  const [me] = await tx.$queryRaw<{ is_admin: boolean; active: boolean }[]>`SELECT is_admin, active FROM users WHERE id = ${ctx.actor.id}::uuid FOR SHARE`;
  assertTenant({ ...ctx.actor, isAdmin: !!me && me.is_admin && me.active }, "users.manage");
}

/** Never leave the installation without an active administrator (call serializeAdminChanges first). */
async function assertNotLastAdmin(tx: Tx, userId: string) {
  const others = await tx.user.count({ where: { isAdmin: true, active: true, id: { not: userId } } });
  if (others === 0) throw conflict("This is the only active administrator. Make someone else an administrator first.");
}

const EMAIL_TAKEN = "A user with that e-mail address already exists.";
const emailTaken = () => conflict(EMAIL_TAKEN, { email: [EMAIL_TAKEN] });

export async function createUser(ctx: Ctx, input: { email: string; name: string; password: string; isAdmin: boolean }) {
  assertTenant(ctx.actor, "users.manage");
  const passwordHash = await hashPassword(input.password);
  return db()
    .$transaction(async (tx) => {
      await assertStillAdmin(tx, ctx);
      if (await tx.user.findUnique({ where: { email: input.email }, select: { id: true } })) throw emailTaken();
      const user = await tx.user.create({
        data: { email: input.email, name: input.name, passwordHash, isAdmin: input.isAdmin },
      });
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "user.create",
        target: { type: "user", id: user.id, label: user.email },
        requestId: ctx.requestId,
        details: { isAdmin: user.isAdmin },
      });
      return { id: user.id, email: user.email };
    })
    .catch(addressTakenMeanwhile);
}

/** Another request took the address between the check and the write: the same answer as the check's. */
function addressTakenMeanwhile(error: unknown): never {
  throw isUniqueViolation(error, "users_email_key") ? emailTaken() : error;
}

/**
 * An administrator corrects a person's name or sign-in e-mail. Sessions stay: they belong to the
 * person, not to the address. The audit event keeps the previous address, so the trail still
 * connects events recorded under it.
 */
export async function updateUser(ctx: Ctx, input: { userId: string; name: string; email: string }) {
  assertTenant(ctx.actor, "users.manage");
  return db()
    .$transaction(async (tx) => {
      await assertStillAdmin(tx, ctx);
      const user = await getUserOrThrow(tx, input.userId);
      const changed = [...(user.name !== input.name ? ["name"] : []), ...(user.email !== input.email ? ["email"] : [])];
      if (changed.length === 0) return { id: user.id, name: user.name, email: user.email };
      if (changed.includes("email") && (await tx.user.findUnique({ where: { email: input.email }, select: { id: true } }))) throw emailTaken();
      await tx.user.update({ where: { id: user.id }, data: { name: input.name, email: input.email } });
      await recordAuditEvent(tx, {
        actor: ctx.actor,
        action: "user.update",
        target: { type: "user", id: user.id, label: input.email },
        requestId: ctx.requestId,
        details: { changed, ...(changed.includes("email") ? { previousEmail: user.email } : {}) },
      });
      return { id: user.id, name: input.name, email: input.email };
    })
    .catch(addressTakenMeanwhile);
}

export async function setUserActive(ctx: Ctx, input: { userId: string; active: boolean }) {
  assertTenant(ctx.actor, "users.manage");
  return db().$transaction(async (tx) => {
    await assertStillAdmin(tx, ctx);
    const user = await getUserOrThrow(tx, input.userId);
    if (user.active === input.active) return { id: user.id, active: user.active };
    if (!input.active) {
      if (user.id === ctx.actor.id) throw conflict("You cannot deactivate your own account.");
      if (user.isAdmin) await assertNotLastAdmin(tx, user.id);
      // Ending the sessions is what makes deactivation take effect at the next request.
      await tx.session.deleteMany({ where: { userId: user.id } });
    }
    await tx.user.update({ where: { id: user.id }, data: { active: input.active } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: input.active ? "user.reactivate" : "user.deactivate",
      target: { type: "user", id: user.id, label: user.email },
      requestId: ctx.requestId,
    });
    return { id: user.id, active: input.active };
  });
}

export async function setUserAdmin(ctx: Ctx, input: { userId: string; isAdmin: boolean }) {
  assertTenant(ctx.actor, "users.manage");
  return db().$transaction(async (tx) => {
    await assertStillAdmin(tx, ctx);
    const user = await getUserOrThrow(tx, input.userId);
    if (user.isAdmin === input.isAdmin) return { id: user.id, isAdmin: user.isAdmin };
    if (!input.isAdmin) await assertNotLastAdmin(tx, user.id);
    await tx.user.update({ where: { id: user.id }, data: { isAdmin: input.isAdmin } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: input.isAdmin ? "user.make_admin" : "user.revoke_admin",
      target: { type: "user", id: user.id, label: user.email },
      requestId: ctx.requestId,
    });
    return { id: user.id, isAdmin: input.isAdmin };
  });
}

export async function resetUserPassword(ctx: Ctx, input: { userId: string; password: string; revokeTokens?: boolean }) {
  assertTenant(ctx.actor, "users.manage");
  const passwordHash = await hashPassword(input.password);
  return db().$transaction(async (tx) => {
    await assertStillAdmin(tx, ctx);
    const user = await getUserOrThrow(tx, input.userId);
    await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    // A reset signs the person out everywhere; the new password is the only way back in. An
    // administrator resetting their own keeps the session they did it from, as a change in Settings does.
    const keep = user.id === ctx.actor.id && ctx.actor.sessionId ? { id: { not: ctx.actor.sessionId } } : {};
    await tx.session.deleteMany({ where: { userId: user.id, ...keep } });
    // Sessions end with the password; tokens do not, and a reset is often the answer to an account taken over.
    const tokensRevoked = input.revokeTokens
      ? (await tx.apiToken.updateMany({ where: { userId: user.id, revokedAt: null }, data: { revokedAt: new Date() } })).count
      : 0;
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "user.reset_password",
      target: { type: "user", id: user.id, label: user.email },
      requestId: ctx.requestId,
      // Not "tokens…": key names that name a secret are masked in the trail.
      details: { personalAccessRevoked: tokensRevoked },
    });
    return { id: user.id, tokensRevoked };
  });
}

export async function changeOwnPassword(ctx: Ctx, input: { currentPassword: string; newPassword: string }) {
  const user = await getUserOrThrow(db(), ctx.actor.id);
  // The current password is checked under the sign-in limits, on the same counters: a stolen session
  // must not become an unlimited way to guess it (and every guess costs a deliberately slow hash).
  const keys = { email: user.email, address: await getClientAddress() };
  if (!(await reserveAttempt(keys))) throw new AppError("RATE_LIMITED", SIGN_IN_ERRORS.locked);
  if (!(await verifyPassword(input.currentPassword, user.passwordHash))) {
    await confirmFailure(keys);
    throw new AppError("VALIDATION", "Your current password is not correct.", {
      currentPassword: ["Your current password is not correct."],
    });
  }
  await settleSuccess(keys);
  const passwordHash = await hashPassword(input.newPassword);
  await db().$transaction(async (tx) => {
    // Checked and written against the password that was verified: a reset by an administrator (or
    // another change) while the hashes ran wins, and this change does not quietly undo it.
    const { count } = await tx.user.updateMany({ where: { id: user.id, passwordHash: user.passwordHash }, data: { passwordHash } });
    if (count === 0) throw conflict("Your password was changed by someone else a moment ago. Sign in again with the new one, or ask an administrator.");
    if (ctx.actor.sessionId && !(await tx.session.findUnique({ where: { id: ctx.actor.sessionId } }))) {
      throw new AppError("UNAUTHENTICATED", "Your session has ended. Sign in again.");
    }
    // Whoever else holds a session of this person (a stolen one, a forgotten browser) is signed out;
    // the browser that changed it stays signed in.
    const { count: signedOut } = await tx.session.deleteMany({ where: { userId: user.id, ...(ctx.actor.sessionId ? { id: { not: ctx.actor.sessionId } } : {}) } });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      details: { otherSessionsEnded: signedOut },
      action: "user.change_password",
      target: { type: "user", id: user.id, label: user.email },
      requestId: ctx.requestId,
    });
  });
  return { id: user.id };
}
