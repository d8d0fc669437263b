import { errors as undiciErrors } from "undici";
import type { ErrorClass } from "../events/schemas.ts";

/** Why one attempt at one vendor failed, and whether another candidate may be tried. */
export interface AttemptFailure {
  errorClass: ErrorClass;
  httpStatus: number | null;
  /** True when the next candidate should be tried; false when the client's request itself is at fault. */
  retryable: boolean;
  message: string;
}

export function failureFromStatus(status: number, upstreamBody: string): AttemptFailure {
  const message = `upstream answered ${status}: ${upstreamBody.slice(0, 300)}`;
  if (status === 429)
    return { errorClass: "rate_limited", httpStatus: status, retryable: true, message };
  if (status === 408)
    return { errorClass: "timeout", httpStatus: status, retryable: true, message };
  if (status >= 500)
    return { errorClass: "server_error", httpStatus: status, retryable: true, message };
  return { errorClass: "client_error", httpStatus: status, retryable: false, message };
}

export function failureFromError(error: unknown): AttemptFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
  ) {
    return { errorClass: "timeout", httpStatus: null, retryable: true, message };
  }
  if (error instanceof SyntaxError) {
    return { errorClass: "bad_response", httpStatus: null, retryable: true, message };
  }
  return { errorClass: "connect_error", httpStatus: null, retryable: true, message };
}
