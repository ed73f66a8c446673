"use server";

import { defineAction } from "@/lib/actions/action";
import { refreshStore } from "@/lib/connections/runtime";
import { generateAzureCertificate } from "./certificates";
import { createStore, deleteStore, testDraftStore, testStore, updateStore } from "./mutations";
import { createStoreSchema, storeIdSchema, testDraftSchema, updateStoreSchema } from "./schemas";

export const createStoreAction = defineAction(createStoreSchema, (input, ctx) => createStore(ctx, input));
export const updateStoreAction = defineAction(updateStoreSchema, (input, ctx) => updateStore(ctx, input));
export const deleteStoreAction = defineAction(storeIdSchema, (input, ctx) => deleteStore(ctx, input));
export const testStoreAction = defineAction(storeIdSchema, (input, ctx) => testStore(ctx, input));
export const testDraftStoreAction = defineAction(testDraftSchema, (input, ctx) => testDraftStore(ctx, input));

export const generateAzureCertificateAction = defineAction(storeIdSchema, (input, ctx) => generateAzureCertificate(ctx, input));
/** Drops every value read from the store, on every instance. */
export const refreshStoreAction = defineAction(storeIdSchema, (input, ctx) => refreshStore(ctx, input));
