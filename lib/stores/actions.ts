"use server";

import { defineAction } from "@/lib/actions/action";
import { generateAzureCertificate } from "./certificates";
import { createStore, deleteStore, testDraftStore, testStore, updateStore } from "./mutations";
import { createStoreSchema, storeIdSchema, testDraftSchema, updateStoreSchema } from "./schemas";

export const createStoreAction = defineAction(createStoreSchema, (input, ctx) => createStore(ctx, input));
export const updateStoreAction = defineAction(updateStoreSchema, (input, ctx) => updateStore(ctx, input));
export const deleteStoreAction = defineAction(storeIdSchema, (input, ctx) => deleteStore(ctx, input));
export const testStoreAction = defineAction(storeIdSchema, (input, ctx) => testStore(ctx, input));
export const testDraftStoreAction = defineAction(testDraftSchema, (input, ctx) => testDraftStore(ctx, input));

export const generateAzureCertificateAction = defineAction(storeIdSchema, (input, ctx) => generateAzureCertificate(ctx, input));
