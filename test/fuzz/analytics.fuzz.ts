// The analytics API's fuzz target: analytics-inputs.ts's cases and
// properties, with /healthz probed beside each, over the hand ledger plus
// feedback comments a spreadsheet would run as formulas. Two more properties:
// no CSV answer has a text cell a spreadsheet runs (OWASP's CSV injection
// rule), and a tenant's token never reads another tenant's rows.
import type { QualityScored, RequestCompleted } from "../../events/schemas.ts";
import { handLedger } from "../fixtures/hand-ledger.ts";
import { sampleQualityScored, scoredRequestOf } from "../fixtures/sample-events.ts";
import {
  type AnalyticsCase,
  analyticsCase,
  answerViolations,
  startAnalyticsUnderTest,
} from "./analytics-inputs.ts";
import { whileProbed } from "./responsiveness.ts";
import type { FuzzTarget, Violation } from "./runner.ts";

/** Feedback comments that are formulas to a spreadsheet. */
const FORMULA_COMMENTS = [
  '=HYPERLINK("http://example.com/x","click")',
  "+1+cmd|' /C calc'!A0",
  "@SUM(A1:A2)",
  "\t=1+1",
  "\r=1+1",
  "-2+3+cmd|' /C calc'!A0",
];

/** Scores on acme's first request whose comments are formulas. */
function formulaScores(): QualityScored[] {
  const request = handLedger().find(
    (event): event is RequestCompleted =>
      event.event_type === "request_completed" && event.tenant_id === "acme",
  );
  if (!request) throw new Error("the hand ledger has no acme request");
  return FORMULA_COMMENTS.map((comment) =>
    sampleQualityScored({
      tenant_id: "acme",
      request_id: request.request_id,
      comment,
      scored_request: scoredRequestOf(request),
    }),
  );
}

/** The cells of a CSV text (RFC 4180 quoting). */
export function csvCells(text: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index] as string;
    if (quoted) {
      if (character !== '"') cell += character;
      else if (text[index + 1] === '"') {
        cell += '"';
        index += 1;
      } else quoted = false;
    } else if (character === '"') quoted = true;
    else if (character === "," || character === "\n") {
      cells.push(cell);
      cell = "";
    } else if (character !== "\r" || text[index + 1] !== "\n") cell += character;
  }
  if (cell !== "") cells.push(cell);
  return cells;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const TEXT_ANSWER = /json|csv|markdown|html|ndjson/;
/** The endpoints that read the ledger (the OpenAPI document's examples name acme's key). */
const DATA_PATHS = /^\/v1\/(matrix|whatif|vendors|export)/;

function contentTypeOf(headers: Record<string, unknown>): string {
  return String(headers["content-type"] ?? "");
}

/** CSV answers with no formula cell; a tenant's token reading nothing of another tenant's. */
function dataViolations(
  input: AnalyticsCase,
  response: { statusCode: number; body: string; headers: Record<string, unknown> },
): Violation[] {
  if (response.statusCode < 200 || response.statusCode >= 300) return [];
  const violations: Violation[] = [];
  const type = contentTypeOf(response.headers);
  if (type.includes("text/csv")) {
    const formula = csvCells(response.body).find(
      (cell) => FORMULA_START.test(cell) && !NUMBER.test(cell),
    );
    if (formula !== undefined) {
      violations.push({
        property: "csv_cells_not_formulas",
        detail: `${type} cell ${JSON.stringify(formula.slice(0, 100))}`,
      });
    }
  }
  // globex's token: acme's tenant id, keys and contract never appear, unless the request named them.
  const path = input.kind === "get" ? input.path : "/v1/whatif";
  if (
    input.who === "globex" &&
    DATA_PATHS.test(path) &&
    TEXT_ANSWER.test(type) &&
    !JSON.stringify(input).includes("acme") &&
    response.body.includes("acme")
  ) {
    const at = response.body.indexOf("acme");
    violations.push({
      property: "tenant_reads_only_its_own",
      detail: `globex's token read ${JSON.stringify(response.body.slice(Math.max(0, at - 80), at + 80))}`,
    });
  }
  return violations;
}

export const analyticsTarget: FuzzTarget<AnalyticsCase> = {
  api: "analytics",
  async start() {
    const underTest = await startAnalyticsUnderTest(formulaScores());
    return {
      arbitrary: analyticsCase,
      async check(input) {
        const { result, violations } = await whileProbed(underTest.app, () =>
          underTest.send(input),
        );
        return [
          ...answerViolations(result.statusCode, result.body),
          ...dataViolations(input, result),
          ...violations,
        ];
      },
      stats: () =>
        Object.fromEntries(
          [...underTest.statuses].map(([status, count]) => [`status_${status}`, count]),
        ),
      stop: () => underTest.stop(),
    };
  },
};
