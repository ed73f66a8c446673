"use server";

import { defineAction } from "@/lib/actions/action";
import { changeOwnPassword, createUser, resetUserPassword, setUserActive, setUserAdmin } from "./mutations";
import {
  changeOwnPasswordSchema,
  createUserSchema,
  resetPasswordSchema,
  setUserActiveSchema,
  setUserAdminSchema,
} from "./schemas";

export const createUserAction = defineAction(createUserSchema, (input, ctx) => createUser(ctx, input));
export const setUserActiveAction = defineAction(setUserActiveSchema, (input, ctx) => setUserActive(ctx, input));
export const setUserAdminAction = defineAction(setUserAdminSchema, (input, ctx) => setUserAdmin(ctx, input));
export const resetUserPasswordAction = defineAction(resetPasswordSchema, (input, ctx) => resetUserPassword(ctx, input));
export const changeOwnPasswordAction = defineAction(changeOwnPasswordSchema, (input, ctx) => changeOwnPassword(ctx, input));
