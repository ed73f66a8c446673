"use server";

import { defineAction } from "@/lib/actions/action";
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

export const createPersonalTokenAction = defineAction(createPersonalTokenSchema, (input, ctx) => createPersonalToken(ctx, input));
export const createServiceAccountTokenAction = defineAction(createServiceAccountTokenSchema, (input, ctx) => createServiceAccountToken(ctx, input));
export const revokeTokenAction = defineAction(revokeTokenSchema, (input, ctx) => revokeToken(ctx, input));
export const createServiceAccountAction = defineAction(createServiceAccountSchema, (input, ctx) => createServiceAccount(ctx, input));
export const updateServiceAccountAction = defineAction(updateServiceAccountSchema, (input, ctx) => updateServiceAccount(ctx, input));
export const setServiceAccountDisabledAction = defineAction(setServiceAccountDisabledSchema, (input, ctx) => setServiceAccountDisabled(ctx, input));
export const deleteServiceAccountAction = defineAction(serviceAccountIdSchema, (input, ctx) => deleteServiceAccount(ctx, input));
