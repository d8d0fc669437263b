// Every error the gateway answers with, in one table: a stable code, the HTTP
// status, whether a client may retry, and the error `type` in each inbound
// API's own shape (OpenAI's and Anthropic's). Vendors' errors are mapped onto
// these codes by their adapters (vendors/*.ts, `mapError`). Decisions read the
// code, never the message text.
import { truncated } from "./reflected-text.ts";

export const GATEWAY_ERRORS = {
  invalid_request: {
    status: 400,
    openai: "invalid_request_error",
    anthropic: "invalid_request_error",
    retryable: false,
  },
  invalid_api_key: {
    status: 401,
    openai: "invalid_request_error",
    anthropic: "authentication_error",
    retryable: false,
  },
  model_not_found: {
    status: 404,
    openai: "invalid_request_error",
    anthropic: "not_found_error",
    retryable: false,
  },
  not_found: {
    status: 404,
    openai: "invalid_request_error",
    anthropic: "not_found_error",
    retryable: false,
  },
  request_not_found: {
    status: 404,
    openai: "invalid_request_error",
    anthropic: "not_found_error",
    retryable: false,
  },
  model_not_priced: {
    status: 400,
    openai: "invalid_request_error",
    anthropic: "invalid_request_error",
    retryable: false,
  },
  budget_exceeded: {
    status: 429,
    openai: "insufficient_quota",
    anthropic: "rate_limit_error",
    retryable: false,
  },
  request_too_large: {
    status: 413,
    openai: "invalid_request_error",
    anthropic: "request_too_large",
    retryable: false,
  },
  unsupported_by_vendor: {
    status: 400,
    openai: "invalid_request_error",
    anthropic: "invalid_request_error",
    retryable: false,
  },
  upstream_invalid_request: {
    status: 400,
    openai: "invalid_request_error",
    anthropic: "invalid_request_error",
    retryable: false,
  },
  upstream_rejected: {
    status: 400,
    openai: "invalid_request_error",
    anthropic: "invalid_request_error",
    retryable: false,
  },
  upstream_auth_failed: {
    status: 502,
    openai: "api_error",
    anthropic: "api_error",
    retryable: true,
  },
  upstream_rate_limited: {
    status: 429,
    openai: "rate_limit_error",
    anthropic: "rate_limit_error",
    retryable: true,
  },
  upstream_overloaded: {
    status: 503,
    openai: "server_error",
    anthropic: "overloaded_error",
    retryable: true,
  },
  upstream_server_error: {
    status: 502,
    openai: "server_error",
    anthropic: "api_error",
    retryable: true,
  },
  upstream_timeout: {
    status: 504,
    openai: "server_error",
    anthropic: "api_error",
    retryable: true,
  },
  upstream_unreachable: {
    status: 502,
    openai: "server_error",
    anthropic: "api_error",
    retryable: true,
  },
  upstream_bad_response: {
    status: 502,
    openai: "server_error",
    anthropic: "api_error",
    retryable: true,
  },
  upstream_stream_failed: {
    status: 502,
    openai: "server_error",
    anthropic: "api_error",
    retryable: true,
  },
  // Never sent (nobody is listening): the code events record for a request
  // or attempt that ended because the client went away.
  client_closed: {
    status: 499,
    openai: "invalid_request_error",
    anthropic: "invalid_request_error",
    retryable: false,
  },
  all_vendors_failed: { status: 502, openai: "api_error", anthropic: "api_error", retryable: true },
  internal_error: { status: 500, openai: "api_error", anthropic: "api_error", retryable: true },
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
}

/**
 * The longest message an error body carries. Messages quote what clients and
 * vendors sent, each bounded where it is quoted (reflected-text.ts, and 500
 * characters of a vendor's text); this bounds whatever a new message forgets.
 */
const MAX_MESSAGE_LENGTH = 2000;

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly param: string | null;
  /** Seconds a client should wait before retrying: from the vendor, or until a budget resets. */
  readonly retryAfterSeconds: number | null;

  constructor(
    code: GatewayErrorCode,
    message: string,
    options: {
      param?: string | null;
      status?: number;
      cause?: unknown;
      retryAfterSeconds?: number | null;
    } = {},
  ) {
    super(truncated(message, MAX_MESSAGE_LENGTH), { cause: options.cause });
    this.code = code;
    this.status = options.status ?? GATEWAY_ERRORS[code].status;
    this.param = options.param == null ? null : truncated(options.param, MAX_MESSAGE_LENGTH);
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
  }

  get retryable(): boolean {
    return GATEWAY_ERRORS[this.code].retryable;
  }

  /** OpenAI's error body, which every OpenAI SDK parses. */
  toOpenAI(): OpenAIErrorBody {
    return {
      error: {
        message: this.message,
        type: GATEWAY_ERRORS[this.code].openai,
        param: this.param,
        code: this.code,
      },
    };
  }

  /**
   * Anthropic's error body. Its shape has no `code`, so the stable code leads
   * the message, where a person reads it; programs read the HTTP status and `type`.
   */
  toAnthropic(): AnthropicErrorBody {
    const param = this.param ? ` (${this.param})` : "";
    return {
      type: "error",
      error: {
        type: GATEWAY_ERRORS[this.code].anthropic,
        message: `${this.code}${param}: ${this.message}`,
      },
    };
  }
}
