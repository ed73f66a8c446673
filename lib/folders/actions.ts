"use server";

import { defineAction } from "@/lib/actions/action";
import {
  createFolder,
  deleteFolder,
  removeFolderMember,
  setFolderMember,
  updateFolder,
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
export const renameFolderAction = defineAction(renameFolderSchema, (input, ctx) => updateFolder(ctx, input));
export const moveFolderAction = defineAction(moveFolderSchema, (input, ctx) => updateFolder(ctx, input));
export const deleteFolderAction = defineAction(deleteFolderSchema, (input, ctx) => deleteFolder(ctx, input));
export const setFolderMemberAction = defineAction(setMemberSchema, (input, ctx) => setFolderMember(ctx, input));
export const removeFolderMemberAction = defineAction(removeMemberSchema, (input, ctx) => removeFolderMember(ctx, input));
