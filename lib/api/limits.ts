/** The largest request body any /api/v1 route reads (413 beyond it). Input schemas cap their long fields to it too, so the OpenAPI document promises nothing larger. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
