// Every error the gateway answers with, in one table: a stable code, the HTTP
// status, whether a client may retry, and OpenAI's error `type`. Decisions read
// the code, never the message text.
export const GATEWAY_ERRORS = {
  invalid_request: { status: 400, type: "invalid_request_error", retryable: false },
  invalid_api_key: { status: 401, type: "invalid_request_error", retryable: false },
  model_not_found: { status: 404, type: "invalid_request_error", retryable: false },
  not_found: { status: 404, type: "invalid_request_error", retryable: false },
  request_too_large: { status: 413, type: "invalid_request_error", retryable: false },
  upstream_rejected: { status: 400, type: "invalid_request_error", retryable: false },
  all_vendors_failed: { status: 502, type: "api_error", retryable: true },
  internal_error: { status: 500, type: "api_error", retryable: true },
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly param: string | null;

  constructor(
    code: GatewayErrorCode,
    message: string,
    options: { param?: string | null; status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? GATEWAY_ERRORS[code].status;
    this.param = options.param ?? null;
  }

  get retryable(): boolean {
    return GATEWAY_ERRORS[this.code].retryable;
  }

  /** OpenAI's error body, which every OpenAI SDK parses. */
  toOpenAI(): { error: { message: string; type: string; param: string | null; code: string } } {
    return {
      error: {
        message: this.message,
        type: GATEWAY_ERRORS[this.code].type,
        param: this.param,
        code: this.code,
      },
    };
  }
}
