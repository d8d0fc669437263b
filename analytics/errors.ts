// Every error the analytics API answers with, in one table: a stable code and
// its HTTP status. Answers are `{"error": {"code", "message", "field"?}}`;
// clients decide on `code`, never on the message text.
export const ANALYTICS_ERRORS = {
  invalid_parameter: { status: 400, meaning: "a parameter is missing or wrong; `field` names it" },
  invalid_token: { status: 401, meaning: "no bearer token, or an unknown one" },
  forbidden_tenant: {
    status: 403,
    meaning: "the token may not read a tenant the request names; `field` names the parameter",
  },
  not_found: { status: 404, meaning: "no such endpoint, dataset or vendor" },
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
