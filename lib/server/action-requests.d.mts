import type { IncomingMessage, ServerResponse } from "node:http";

export const ACTION_BODY_MAX_BYTES: number;
export const ACTION_REQUEST_HEADER: string;
export function markActionReached(id: string | null | undefined): void;
export function actionNotReached(id: string | null | undefined): boolean;
export function isActionRequest(request: IncomingMessage): boolean;
export function handleActionRequest(
  request: IncomingMessage,
  response: ServerResponse,
  handle: (request: IncomingMessage, response: ServerResponse) => unknown,
  refuse: (request: IncomingMessage, response: ServerResponse) => void,
): unknown;
