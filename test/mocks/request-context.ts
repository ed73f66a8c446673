import { vi } from "vitest";

const actual = await vi.importActual<typeof import("@/lib/request-context")>("@/lib/request-context");

/** lib/request-context without next/headers: a fixed request id outside a real request. */
export const { REQUEST_ID_HEADER, requestIdFrom, clientAddressFrom } = actual;
export const getClientAddress = async () => "192.0.2.10";
export const startActionRequest = async () => "test-request-id";
