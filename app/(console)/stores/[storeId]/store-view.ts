import "server-only";
import { getStoreViewOrThrow } from "@/lib/stores/queries";
import { viewLoader } from "../../view-loader";

export const loadStoreView = viewLoader("store", getStoreViewOrThrow);
