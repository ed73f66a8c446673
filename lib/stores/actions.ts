"use server";

import { defineAction, requireTenant } from "@/lib/actions/action";
import { refreshStore } from "@/lib/connections/runtime";
import { generateStoreCertificate } from "./certificates";
import { createStore, deleteStore, providerInputErrors, testAfterSaving, testDraftStore, testStore, updateStore } from "./mutations";
import { createStoreActionSchema, storeIdSchema, testDraftSchema, updateStoreActionSchema } from "./schemas";

// Admin-only: a non-administrator gets "not found" before the input is even read.
const admin = requireTenant("stores.manage", "Credential store");

// A refused create names the kind's missing settings too, not only the name: one submit shows them all.
export const createStoreAction = defineAction(
  createStoreActionSchema,
  async ({ testAfterSave, ...input }, ctx) => testAfterSaving(ctx, await createStore(ctx, input), testAfterSave),
  { ...admin, alsoInvalid: providerInputErrors },
);
export const updateStoreAction = defineAction(
  updateStoreActionSchema,
  async ({ testAfterSave, ...input }, ctx) => testAfterSaving(ctx, await updateStore(ctx, input), testAfterSave),
  admin,
);
export const deleteStoreAction = defineAction(storeIdSchema, (input, ctx) => deleteStore(ctx, input), admin);
export const testStoreAction = defineAction(storeIdSchema, (input, ctx) => testStore(ctx, input), admin);
// The same for a new store's test; a saved store's draft keeps its stored secrets, which this cannot see.
const newStoreDraft = (raw: unknown) => (raw !== null && typeof raw === "object" && (raw as { storeId?: unknown }).storeId ? {} : providerInputErrors(raw));
export const testDraftStoreAction = defineAction(testDraftSchema, (input, ctx) => testDraftStore(ctx, input), { ...admin, alsoInvalid: newStoreDraft });

export const generateStoreCertificateAction = defineAction(storeIdSchema, (input, ctx) => generateStoreCertificate(ctx, input), admin);
/** Drops every value read from the store, on every instance. */
export const refreshStoreAction = defineAction(storeIdSchema, (input, ctx) => refreshStore(ctx, input), admin);
