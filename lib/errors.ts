import { hasBrand, stampBrands } from "@/lib/error-brand";

/**
 * Expected failures carry a message meant for the person who caused them. Anything that is not an
 * AppError is "unexpected": the user sees a generic message with a reference id, the log gets the rest.
 */
export type AppErrorCode =
  | "BAD_REQUEST"
  | "VALIDATION"
  | "UNAUTHENTICATED"
  | "NOT_FOUND"
  | "CONFLICT"
  | "RATE_LIMITED"
  | "PAYLOAD_TOO_LARGE"
  /** A credential store or a connection's target failed (its message says what, never with a value). */
  | "UPSTREAM_FAILED"
  | "UPSTREAM_UNAVAILABLE"
  | "UPSTREAM_TIMEOUT"
  /** This instance lacks configuration the request needs (a master key): its operator must set it. */
  | "NOT_CONFIGURED";

export const HTTP_STATUS: Record<AppErrorCode, number> = {
  BAD_REQUEST: 400,
  VALIDATION: 422,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  UPSTREAM_FAILED: 502,
  UPSTREAM_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
  NOT_CONFIGURED: 503,
};

export type FieldErrors = Record<string, string[]>;

export class AppError extends Error {
  static readonly brand: string = "latch.AppError";
  static [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(this, value);
  }
  override name = "AppError";
  constructor(
    readonly code: AppErrorCode,
    readonly userMessage: string,
    readonly fieldErrors?: FieldErrors,
    /** Sent as Retry-After: whole seconds, 1 to a day, so whatever a store or target said is a valid header. */
    retryAfterSeconds?: number,
  ) {
    super(userMessage);
    this.retryAfterSeconds = retryAfterSeconds === undefined || !Number.isFinite(retryAfterSeconds) ? undefined : Math.min(86_400, Math.max(1, Math.ceil(retryAfterSeconds)));
    stampBrands(this, new.target);
  }
  readonly retryAfterSeconds?: number;
  /**
   * For a failure of a connection's target or a credential store: what failed, as a stable code a
   * program can branch on (the REST API's `error.reason`). Undefined when Latch itself refused.
   */
  get reason(): string | undefined {
    return undefined;
  }
  /** With a reason: the target's own code for the error, when it sent one (a SQLSTATE, an error number). */
  get targetCode(): string | undefined {
    return undefined;
  }
}

/** Forbidden and absent look the same to the caller, so nothing leaks about what exists. */
export const notFound = (what = "That item") => new AppError("NOT_FOUND", `${what} was not found.`);

export const validationError = (message: string, fieldErrors?: FieldErrors) =>
  new AppError("VALIDATION", message, fieldErrors);

export const conflict = (message: string, fieldErrors?: FieldErrors) => new AppError("CONFLICT", message, fieldErrors);

export function unexpectedMessage(reference: string) {
  return `Something went wrong on our side. If it keeps happening, give your administrator this reference: ${reference}.`;
}
