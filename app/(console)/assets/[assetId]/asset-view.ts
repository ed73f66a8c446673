import "server-only";
import { getAssetViewOrThrow } from "@/lib/assets/queries";
import { viewLoader } from "../../view-loader";

export const loadAssetView = viewLoader("asset", getAssetViewOrThrow);
