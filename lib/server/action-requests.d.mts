import type { IncomingMessage, ServerResponse } from "node:http";

export function markActionRan(): void;
export function actionNotReached(): boolean;
export function isActionRequest(request: IncomingMessage): boolean;
export function handleActionRequest(
  request: IncomingMessage,
  response: ServerResponse,
  handle: (request: IncomingMessage, response: ServerResponse) => unknown,
  refuse: (request: IncomingMessage, response: ServerResponse) => void,
): unknown;
