"use server";

import { defineAction, requireTenant } from "@/lib/actions/action";
import { refreshStore } from "@/lib/connections/runtime";
import { generateStoreCertificate } from "./certificates";
import { createStore, deleteStore, testDraftStore, testStore, updateStore } from "./mutations";
import { createStoreSchema, storeIdSchema, testDraftSchema, updateStoreSchema } from "./schemas";

// Admin-only: a non-administrator gets "not found" before the input is even read.
const admin = requireTenant("stores.manage", "Credential store");

export const createStoreAction = defineAction(createStoreSchema, (input, ctx) => createStore(ctx, input), admin);
export const updateStoreAction = defineAction(updateStoreSchema, (input, ctx) => updateStore(ctx, input), admin);
export const deleteStoreAction = defineAction(storeIdSchema, (input, ctx) => deleteStore(ctx, input), admin);
export const testStoreAction = defineAction(storeIdSchema, (input, ctx) => testStore(ctx, input), admin);
export const testDraftStoreAction = defineAction(testDraftSchema, (input, ctx) => testDraftStore(ctx, input), admin);

export const generateStoreCertificateAction = defineAction(storeIdSchema, (input, ctx) => generateStoreCertificate(ctx, input), admin);
/** Drops every value read from the store, on every instance. */
export const refreshStoreAction = defineAction(storeIdSchema, (input, ctx) => refreshStore(ctx, input), admin);
