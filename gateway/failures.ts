import { errors as undiciErrors } from "undici";
import type { ErrorClass } from "../events/schemas.ts";
import { GatewayError, type GatewayErrorCode } from "./errors.ts";

/** Why one attempt at one vendor failed, and whether another candidate may be tried. */
export interface AttemptFailure {
  /** The stable code the client sees when this failure is the answer. */
  code: GatewayErrorCode;
  errorClass: ErrorClass;
  httpStatus: number | null;
  /** True when the next candidate should be tried; false when the client's request itself is at fault. */
  retryable: boolean;
  message: string;
  /** The request field the vendor blamed, when it named one. */
  param?: string | null;
  retryAfterSeconds?: number | null;
}

/** What an adapter could read out of a vendor's error body. */
export interface VendorErrorDetails {
  message: string | null;
  /** The vendor's own error type or status word (`rate_limit_error`, `RESOURCE_EXHAUSTED`). */
  vendorType: string | null;
  param?: string | null;
}

/**
 * The stable code of a vendor's HTTP error, by status alone. Adapters call this
 * after reading the body, and refine it where their vendor's body says more.
 */
export function failureFromStatus(
  status: number,
  details: VendorErrorDetails,
  retryAfterSeconds: number | null = null,
): AttemptFailure {
  const vendorText = details.message ?? "no message";
  const message = `upstream answered ${status}${details.vendorType ? ` ${details.vendorType}` : ""}: ${vendorText.slice(0, 500)}`;
  const failure = (
    code: GatewayErrorCode,
    errorClass: ErrorClass,
    retryable: boolean,
  ): AttemptFailure => ({
    code,
    errorClass,
    httpStatus: status,
    retryable,
    message,
    param: details.param ?? null,
    retryAfterSeconds,
  });
  if (status === 429) return failure("upstream_rate_limited", "rate_limited", true);
  if (status === 408) return failure("upstream_timeout", "timeout", true);
  if (status === 503 || status === 529) return failure("upstream_overloaded", "server_error", true);
  if (status >= 500) return failure("upstream_server_error", "server_error", true);
  // The vendor refused the gateway's own key: the operator's problem, not the
  // client's, so the next candidate may well answer.
  if (status === 401 || status === 403)
    return failure("upstream_auth_failed", "client_error", true);
  if (status === 404) return failure("model_not_found", "client_error", false);
  if (status === 413) return failure("request_too_large", "client_error", false);
  if (status === 400 || status === 422) {
    return failure("upstream_invalid_request", "client_error", false);
  }
  return failure("upstream_rejected", "client_error", false);
}

export function failureFromError(error: unknown): AttemptFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ClientGoneError) {
    return {
      code: "client_closed",
      errorClass: "client_closed",
      httpStatus: null,
      retryable: false,
      message,
    };
  }
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
  ) {
    return {
      code: "upstream_timeout",
      errorClass: "timeout",
      httpStatus: null,
      retryable: true,
      message,
    };
  }
  if (error instanceof SyntaxError || error instanceof UpstreamAnswerError) {
    return {
      code: "upstream_bad_response",
      errorClass: "bad_response",
      httpStatus: null,
      retryable: true,
      message,
    };
  }
  return {
    code: "upstream_unreachable",
    errorClass: "connect_error",
    httpStatus: null,
    retryable: true,
    message,
  };
}

/**
 * Whether the candidate loop handles this failure (retry, next candidate,
 * give up) rather than the client getting it as the answer: every retryable
 * one, and a client that left, which the loop ends quietly.
 */
export function isForTheLoop(failure: AttemptFailure): boolean {
  return failure.retryable || failure.errorClass === "client_closed";
}

/** Why an upstream call was aborted when its client closed the connection: no fault of the vendor's. */
export class ClientGoneError extends Error {
  override name = "ClientGoneError";
  constructor() {
    super("the client closed the connection");
  }
}

/** Why an upstream call was aborted when no headers came within the vendor's first_byte_timeout_ms. */
export class FirstByteTimeoutError extends Error {
  override name = "TimeoutError";
  constructor(milliseconds: number) {
    super(`no answer began within first_byte_timeout_ms (${milliseconds} ms)`);
  }
}

/** Why an upstream call was aborted at the vendor's total_timeout_ms. */
export class TotalTimeoutError extends Error {
  override name = "TimeoutError";
  constructor(milliseconds: number) {
    super(`no whole answer within total_timeout_ms (${milliseconds} ms)`);
  }
}

/** A vendor answered 200 with a body the adapter could not read as an answer. */
export class UpstreamAnswerError extends Error {
  override name = "UpstreamAnswerError";
}

/** The error a client receives for an attempt failure that ends the request. */
export function toGatewayError(failure: AttemptFailure, status?: number): GatewayError {
  return new GatewayError(failure.code, failure.message, {
    param: failure.param ?? null,
    status,
    retryAfterSeconds: failure.retryAfterSeconds ?? null,
  });
}

/** `retry-after` in seconds (the delta form; an HTTP date is rare from these vendors and ignored). */
export function retryAfterSecondsOf(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}
