"use server";

import { defineAction, requireTenant } from "@/lib/actions/action";
import { changeOwnPassword, createUser, resetUserPassword, setUserActive, setUserAdmin, updateUser } from "./mutations";
import {
  changeOwnPasswordSchema,
  createUserSchema,
  resetPasswordSchema,
  setUserActiveSchema,
  setUserAdminSchema,
  updateUserSchema,
} from "./schemas";

// Admin-only: a non-administrator gets "not found" before the input is even read.
const admin = requireTenant("users.manage");

export const createUserAction = defineAction(createUserSchema, (input, ctx) => createUser(ctx, input), admin);
export const updateUserAction = defineAction(updateUserSchema, (input, ctx) => updateUser(ctx, input), admin);
export const setUserActiveAction = defineAction(setUserActiveSchema, (input, ctx) => setUserActive(ctx, input), admin);
export const setUserAdminAction = defineAction(setUserAdminSchema, (input, ctx) => setUserAdmin(ctx, input), admin);
export const resetUserPasswordAction = defineAction(resetPasswordSchema, (input, ctx) => resetUserPassword(ctx, input), admin);
export const changeOwnPasswordAction = defineAction(changeOwnPasswordSchema, (input, ctx) => changeOwnPassword(ctx, input));
