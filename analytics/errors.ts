// Every error the analytics API answers with, in one table: a stable code and
// its HTTP status. Answers are `{"error": {"code", "message", "field"?}}`;
// clients decide on `code`, never on the message text.
export const ANALYTICS_ERRORS = {
  invalid_parameter: {
    status: 400,
    meaning:
      "a parameter or body field is missing or wrong, or the body is not JSON; `field` names it",
  },
  invalid_token: { status: 401, meaning: "no bearer token, or an unknown one" },
  forbidden_tenant: {
    status: 403,
    meaning: "the token may not read a tenant the request names; `field` names the parameter",
  },
  not_found: { status: 404, meaning: "no such endpoint, dataset or vendor" },
  body_too_large: { status: 413, meaning: "the body is over the API's limit; `field` is body" },
  unsupported_media_type: {
    status: 415,
    meaning: "a body that is not application/json; `field` is content-type",
  },
  internal_error: { status: 500, meaning: "a bug; logged with its cause" },
} as const;

export type AnalyticsErrorCode = keyof typeof ANALYTICS_ERRORS;

/** An error the API answers with its code's status; `field` names the parameter at fault. */
export class AnalyticsError extends Error {
  constructor(
    readonly code: AnalyticsErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  get status(): number {
    return ANALYTICS_ERRORS[this.code].status;
  }

  toBody(): { error: { code: AnalyticsErrorCode; message: string; field?: string } } {
    return {
      error: {
        code: this.code,
        ...(this.field === undefined ? {} : { field: this.field }),
        message: this.message,
      },
    };
  }
}

/** A 400 that names the offending parameter. */
export class ParameterError extends AnalyticsError {
  constructor(field: string, message: string) {
    super("invalid_parameter", message, field);
  }
}

/** What every body this API reads may weigh: far above the largest valid what-if (50 moves). */
export const ANALYTICS_BODY_LIMIT_BYTES = 1024 * 1024;

interface FrameworkError extends Error {
  code?: string;
  statusCode?: number;
}

/**
 * Fastify's own errors, thrown before a handler runs (the body parser, the
 * router), as this API's errors: a client's mistake is a 4xx naming what was
 * wrong, never a 500. Anything else is not the client's doing and stays a 500.
 */
export function fromFrameworkError(error: FrameworkError): AnalyticsError | null {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AnalyticsError(
        "body_too_large",
        `The body is over ${ANALYTICS_BODY_LIMIT_BYTES} bytes.`,
        "body",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AnalyticsError(
        "unsupported_media_type",
        "The body must be application/json.",
        "content-type",
      );
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ParameterError("content-length", "content-length does not match the body");
    case "FST_ERR_BAD_URL":
      return new ParameterError("path", "the path is not valid percent-encoded UTF-8");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ParameterError("path", "a path parameter is too long");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ParameterError("body", "the body is empty; send a JSON object");
  }
  // The JSON parser's SyntaxError (malformed JSON, or a __proto__ key, which
  // fastify refuses): the client's body. Only errors fastify marks as the
  // client's (a 4xx) count; the message is ours, never the parser's, which
  // quotes the body.
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new ParameterError(
      "body",
      "the body is not valid JSON (or holds a __proto__ or constructor.prototype key)",
    );
  }
  return null;
}
