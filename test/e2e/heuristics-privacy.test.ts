// No answer text is kept by the heuristics: answers carrying a marker, one
// for every way a heuristic check can fail, run through the whole product in
// embedded mode (gateway, local event log, ingest, chDB, analytics). Then the
// marker is looked for in every byte of the data on disk and in every export,
// in every format: it is nowhere. A control marker, in a feedback comment the
// product keeps by design, is looked for the same way and found everywhere,
// so the search would have seen the marker had it been kept.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ANALYTICS_TOKEN } from "../../analytics/access.ts";
import { buildAnalytics } from "../../analytics/app.ts";
import { EXPORT_DATASET_NAMES } from "../../analytics/export/datasets.ts";
import type { ScriptedReply } from "../../simulator/index.ts";
import { queryRows } from "../fixtures/clickhouse.ts";
import { waitFor } from "./ledger-scenario.ts";
import { API_KEY, type Stack, startStack } from "./stack.ts";

// Short: V8 quotes a text that does not parse whole only up to about 20 characters.
const MARK = "QZ7MK";
const CONTROL = "ZQXCONTROLMARK";
const SSN = "123-45-6789";

const person = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" } },
  required: ["name", "age"],
};
const schemaFormat = (schema: object) => ({
  response_format: { type: "json_schema", json_schema: { name: "answer", schema } },
});
const jsonObject = { response_format: { type: "json_object" } };
const weatherTool = {
  tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
};

interface Case {
  /** The prompt's text, which the simulators answer with `script`; never the marker. */
  trigger: string;
  script: Omit<ScriptedReply, "whenLastMessageContains">;
  extra: Record<string, unknown>;
  /** The failing score the case must bring, by metric: so the search cannot pass for want of scores. */
  fails: string;
}

const CASES: Case[] = [
  {
    trigger: "CASE-not-json",
    script: { reply: `${MARK} ${SSN}` },
    extra: jsonObject,
    fails: "json_valid",
  },
  {
    trigger: "CASE-not-object",
    script: { reply: `["${MARK}"]` },
    extra: jsonObject,
    fails: "json_valid",
  },
  {
    trigger: "CASE-schema-unparsed",
    script: { reply: `{"${MARK}": "${SSN}` },
    extra: schemaFormat(person),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-type",
    script: { reply: `{"name": "${MARK}", "age": "${MARK} ${SSN}"}` },
    extra: schemaFormat(person),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-additional",
    script: { reply: `{"name": "a", "age": 1, "${MARK} John Smith HIV+": true}` },
    extra: schemaFormat({ ...person, additionalProperties: false }),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-pattern-key",
    script: { reply: `{"p ${MARK} John Smith HIV+": "${MARK}"}` },
    extra: schemaFormat({ type: "object", patternProperties: { "^p": { type: "integer" } } }),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-required",
    script: { reply: `{"${MARK}": "${SSN}"}` },
    extra: schemaFormat(person),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-enum",
    script: { reply: `{"kind": "${MARK}"}` },
    extra: schemaFormat({ type: "object", properties: { kind: { enum: ["a", "b"] } } }),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-pattern",
    script: { reply: `{"code": "${"a".repeat(27)}${MARK}!"}` },
    extra: schemaFormat({ type: "object", properties: { code: { pattern: "^(a+)+$" } } }),
    fails: "json_schema_valid",
  },
  {
    trigger: "CASE-schema-unsupported",
    script: { reply: `{"code": "${MARK}"}` },
    extra: schemaFormat({ type: "object", properties: { code: { pattern: "^(a)\\1$" } } }),
    fails: "json_schema_skipped",
  },
  {
    trigger: "CASE-tool-not-json",
    script: { toolCall: { name: "get_weather", argumentsJson: `{"c": ${MARK}}` } },
    extra: weatherTool,
    fails: "tool_args_valid",
  },
  {
    trigger: "CASE-tool-not-object",
    script: { toolCall: { name: "get_weather", argumentsJson: `"${MARK}"` } },
    extra: weatherTool,
    fails: "tool_args_valid",
  },
  {
    trigger: "CASE-tool-undeclared",
    script: { toolCall: { name: `${MARK}_tool`, argumentsJson: `{"${MARK}"` } },
    extra: weatherTool,
    fails: "tool_args_valid",
  },
  {
    trigger: "CASE-truncated",
    script: { reply: `${MARK} ${MARK} ${MARK} ${SSN}` },
    extra: { max_tokens: 1 },
    fails: "truncated",
  },
];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    scripts: CASES.map(({ trigger, script }) => ({ whenLastMessageContains: trigger, ...script })),
  });
  expect(stack.eventLogKind).toBe("local");
});
afterAll(() => stack?.stop());

async function chat(body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  await response.text();
  return response.headers.get("x-request-id") as string;
}

/** Every file below a folder, as bytes. */
function filesBelow(directory: string): { path: string; bytes: Buffer }[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, bytes: readFileSync(path) };
    });
}

/** A Parquet file's rows as JSON lines, read by chDB. */
async function parquetAsJson(bytes: Buffer, path: string): Promise<Buffer> {
  writeFileSync(path, bytes);
  const rows = await queryRows(stack.clickhouse.client, `SELECT * FROM file('${path}', Parquet)`);
  return Buffer.from(rows.map((row) => JSON.stringify(row)).join("\n"));
}

describe("heuristic comments keep no answer text", () => {
  it("leaves no trace of the answers on disk or in any export, where a kept comment shows", async () => {
    const requests: { requestId: string; fails: string }[] = [];
    for (const stream of [false, true]) {
      for (const { trigger, extra, fails } of CASES) {
        const requestId = await chat({
          model: "fast",
          stream,
          messages: [{ role: "user", content: `Answer for ${trigger}.` }],
          ...extra,
        });
        requests.push({ requestId, fails });
      }
    }
    // Once through a failover, so the attempts export has a row too.
    const [first] = CASES as [Case];
    const failedOver = await chat({
      model: "flaky",
      messages: [{ role: "user", content: `Answer for ${first.trigger}.` }],
      ...first.extra,
    });
    requests.push({ requestId: failedOver, fails: first.fails });
    // The control: a comment the product keeps, by design.
    const feedback = await fetch(`${stack.gatewayUrl}/v1/feedback`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        request_id: requests[0]?.requestId,
        metric: "helpful",
        value: false,
        comment: `${CONTROL} kept on purpose`,
      }),
    });
    expect(feedback.status).toBe(202);

    // Every case brought its failing score, stored.
    const stored = await waitFor(async () => {
      const rows = await queryRows<{ request_id: string; metric: string; failed: number }>(
        stack.clickhouse.client,
        `SELECT request_id, metric,
           toUInt8(value.type = 'category' OR (value.type = 'boolean' AND NOT assumeNotNull(value.boolean))
             OR metric = 'truncated') AS failed
         FROM switchboard.quality_scored WHERE tenant_id = {tenant:String}`,
        { tenant: stack.tenant },
      );
      const failing = new Set(
        rows.filter((row) => row.failed === 1).map((row) => `${row.request_id} ${row.metric}`),
      );
      return requests.every(({ requestId, fails }) => failing.has(`${requestId} ${fails}`)) &&
        rows.some((row) => row.metric === "helpful")
        ? rows
        : null;
    }, 60_000);
    expect(stored.length).toBeGreaterThan(requests.length);
    await stack.sink.flush();

    // On disk: the local event log and chDB's folder, every byte.
    const files = stack.dataDirectories.flatMap(filesBelow);
    expect(files.length).toBeGreaterThan(10);
    const withMark = files.filter(({ bytes }) => bytes.includes(MARK) || bytes.includes(SSN));
    expect(withMark.map(({ path }) => path)).toEqual([]);
    for (const directory of stack.dataDirectories) {
      const kept = filesBelow(directory).some(({ bytes }) => bytes.includes(CONTROL));
      expect(kept, `the control comment in ${directory}`).toBe(true);
    }

    // Every export, in every format; Parquet is zstd-compressed, so read back through chDB.
    const parquetDirectory = mkdtempSync(join(tmpdir(), "switchboard-parquet-"));
    const analytics = buildAnalytics({
      clickhouse: stack.clickhouse.client,
      logger: pino({ level: "silent" }),
      exportOptions: { pageRows: 10_000, settleMs: 0 },
    });
    try {
      for (const dataset of EXPORT_DATASET_NAMES) {
        for (const format of ["csv", "ndjson", "arrow", "parquet"]) {
          const response = await analytics.inject({
            url: `/v1/export/${dataset}?format=${format}&tenant=${stack.tenant}`,
            headers: { authorization: `Bearer ${DEMO_ANALYTICS_TOKEN}` },
          });
          expect(response.statusCode, `${dataset} ${format}: ${response.body}`).toBe(200);
          const bytes =
            format === "parquet"
              ? await parquetAsJson(
                  response.rawPayload,
                  join(parquetDirectory, `${dataset}.parquet`),
                )
              : response.rawPayload;
          expect(bytes.length, `${dataset} ${format}`).toBeGreaterThan(0);
          expect(bytes.includes(MARK), `${dataset} ${format}`).toBe(false);
          expect(bytes.includes(SSN), `${dataset} ${format}`).toBe(false);
          if (dataset === "quality")
            expect(bytes.includes(CONTROL), `quality ${format}`).toBe(true);
        }
      }
    } finally {
      await analytics.close();
      rmSync(parquetDirectory, { recursive: true, force: true });
    }
  }, 120_000);
});
