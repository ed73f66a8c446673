"use server";

import { defineAction } from "@/lib/actions/action";
import {
  createFolder,
  deleteFolder,
  moveFolder,
  removeFolderMember,
  renameFolder,
  setFolderMember,
} from "./mutations";
import {
  createFolderSchema,
  deleteFolderSchema,
  moveFolderSchema,
  removeMemberSchema,
  renameFolderSchema,
  setMemberSchema,
} from "./schemas";

export const createFolderAction = defineAction(createFolderSchema, (input, ctx) => createFolder(ctx, input));
export const renameFolderAction = defineAction(renameFolderSchema, (input, ctx) => renameFolder(ctx, input));
export const moveFolderAction = defineAction(moveFolderSchema, (input, ctx) => moveFolder(ctx, input));
export const deleteFolderAction = defineAction(deleteFolderSchema, (input, ctx) => deleteFolder(ctx, input));
export const setFolderMemberAction = defineAction(setMemberSchema, (input, ctx) => setFolderMember(ctx, input));
export const removeFolderMemberAction = defineAction(removeMemberSchema, (input, ctx) => removeFolderMember(ctx, input));
