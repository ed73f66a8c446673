"use server";

import { defineAction, requireTenant } from "@/lib/actions/action";
import {
  createPersonalToken,
  createServiceAccount,
  createServiceAccountToken,
  deleteServiceAccount,
  revokeToken,
  setServiceAccountDisabled,
  updateServiceAccount,
} from "./mutations";
import {
  createPersonalTokenSchema,
  createServiceAccountSchema,
  createServiceAccountTokenSchema,
  revokeTokenSchema,
  serviceAccountIdSchema,
  setServiceAccountDisabledSchema,
  updateServiceAccountSchema,
} from "./schemas";

// Service accounts are admin-only: anyone else gets "not found" before the input is even read.
const admin = requireTenant("tokens.manage", "Service account");

export const createPersonalTokenAction = defineAction(createPersonalTokenSchema, (input, ctx) => createPersonalToken(ctx, input));
export const createServiceAccountTokenAction = defineAction(createServiceAccountTokenSchema, (input, ctx) => createServiceAccountToken(ctx, input), admin);
export const revokeTokenAction = defineAction(revokeTokenSchema, (input, ctx) => revokeToken(ctx, input));
export const createServiceAccountAction = defineAction(createServiceAccountSchema, (input, ctx) => createServiceAccount(ctx, input), admin);
export const updateServiceAccountAction = defineAction(updateServiceAccountSchema, (input, ctx) => updateServiceAccount(ctx, input), admin);
export const setServiceAccountDisabledAction = defineAction(setServiceAccountDisabledSchema, (input, ctx) => setServiceAccountDisabled(ctx, input), admin);
export const deleteServiceAccountAction = defineAction(serviceAccountIdSchema, (input, ctx) => deleteServiceAccount(ctx, input), admin);
