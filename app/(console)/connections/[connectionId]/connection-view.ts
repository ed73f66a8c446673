import "server-only";
import { getConnectionViewOrThrow } from "@/lib/connections/queries";
import { viewLoader } from "../../view-loader";

export const loadConnectionView = viewLoader("connection", getConnectionViewOrThrow);
