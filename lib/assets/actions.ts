"use server";

import { defineAction } from "@/lib/actions/action";
import { refreshAsset } from "@/lib/connections/runtime";
import { createAsset, deleteAsset, testAsset, updateAsset } from "./mutations";
import { assetIdSchema, createAssetSchema, updateAssetSchema } from "./schemas";

export const createAssetAction = defineAction(createAssetSchema, (input, ctx) => createAsset(ctx, input));
export const updateAssetAction = defineAction(updateAssetSchema, (input, ctx) => updateAsset(ctx, input));
export const deleteAssetAction = defineAction(assetIdSchema, (input, ctx) => deleteAsset(ctx, input));
/** Resolve test: returns metadata (found, version, keys, username) or the failure, never the value. */
export const testAssetAction = defineAction(assetIdSchema, (input, ctx) => testAsset(ctx, input));
/** Drops the asset's cached value on every instance. */
export const refreshAssetAction = defineAction(assetIdSchema, (input, ctx) => refreshAsset(ctx, input));
