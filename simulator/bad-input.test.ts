// Requests OpenAI would refuse, refused the way OpenAI refuses them: status, and the exact
// error body a client's error handling reads.
import OpenAI from "openai";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateOpenAI } from "../test/fixtures/openai-spec.ts";
import { type RunningSimulator, startSimulator } from "./index.ts";

let simulator: RunningSimulator;

beforeAll(async () => {
  simulator = await startSimulator({ models: [{ id: "sim-small" }] });
});

afterAll(() => simulator.close());

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await request(`${simulator.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer test-key", "content-type": "application/json", ...headers },
    body,
  });
  const answer = await response.body.json();
  expect(validateOpenAI("ErrorResponse", answer)).toEqual([]);
  return { status: response.statusCode, body: answer };
}

const HELLO = [{ role: "user", content: "Hello" }];

describe("refusals", () => {
  it("an unknown model: 404 model_not_found", async () => {
    expect(await post(JSON.stringify({ model: "gpt-9", messages: HELLO }))).toEqual({
      status: 404,
      body: {
        error: {
          message: "The model `gpt-9` does not exist or you do not have access to it.",
          type: "invalid_request_error",
          param: null,
          code: "model_not_found",
        },
      },
    });

    const client = new OpenAI({ apiKey: "k", baseURL: `${simulator.url}/v1`, maxRetries: 0 });
    await expect(
      client.chat.completions.create({
        model: "gpt-9",
        messages: [{ role: "user", content: "Hi" }],
      }),
    ).rejects.toMatchObject({ status: 404, code: "model_not_found" });
  });

  it("malformed JSON: 400 with OpenAI's could-not-parse message", async () => {
    expect(await post('{"model": "sim-small", "messages": [')).toEqual({
      status: 400,
      body: {
        error: {
          message:
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't " +
            "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was " +
            "sent was not valid JSON. If you have trouble figuring out how to fix this, please " +
            "contact us through our help center at help.openai.com.)",
          type: "invalid_request_error",
          param: null,
          code: null,
        },
      },
    });
  });

  it.each([
    ["no Authorization header", {}],
    ["an empty bearer token", { authorization: "Bearer " }],
    ["another scheme", { authorization: "Basic dXNlcjpwYXNz" }],
  ])("missing credentials (%s): 401", async (_case, headers) => {
    const response = await request(`${simulator.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ model: "sim-small", messages: HELLO }),
    });
    expect(response.statusCode).toBe(401);
    expect(await response.body.json()).toEqual({
      error: {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization " +
          "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password " +
          "field (with blank username) if you're accessing the API from your browser and are " +
          "prompted for a username. You can obtain an API key from " +
          "https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });

  it.each([
    [
      "messages missing",
      { model: "sim-small" },
      "messages",
      "missing_required_parameter",
      "Missing required parameter: 'messages'.",
    ],
    [
      "model missing",
      { messages: HELLO },
      "model",
      "missing_required_parameter",
      "Missing required parameter: 'model'.",
    ],
    [
      "content of the wrong type",
      { model: "sim-small", messages: [{ role: "user", content: 42 }] },
      "messages[0].content",
      "invalid_type",
      "Invalid type for 'messages[0].content': expected one of a string or an array of objects, but got an integer instead.",
    ],
    [
      "an unknown role",
      { model: "sim-small", messages: [{ role: "robot", content: "Hi" }] },
      "messages[0].role",
      "invalid_value",
      "Invalid value: 'robot'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool', 'function'.",
    ],
    [
      "a text part without text",
      { model: "sim-small", messages: [{ role: "user", content: [{ type: "text" }] }] },
      "messages[0].content[0].text",
      "missing_required_parameter",
      "Missing required parameter: 'messages[0].content[0].text'.",
    ],
    [
      "no messages",
      { model: "sim-small", messages: [] },
      "messages",
      "empty_array",
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
    ],
    [
      "max_tokens below 1",
      { model: "sim-small", messages: HELLO, max_tokens: 0 },
      "max_tokens",
      "integer_below_min_value",
      "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.",
    ],
    [
      "stream_options without stream",
      { model: "sim-small", messages: HELLO, stream_options: { include_usage: true } },
      "stream_options",
      null,
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
    ],
  ])("%s: 400 naming the field", async (_case, body, param, code, message) => {
    expect(await post(JSON.stringify(body))).toEqual({
      status: 400,
      body: { error: { message, type: "invalid_request_error", param, code } },
    });
  });

  it("an unknown path: 404 Invalid URL", async () => {
    const response = await request(`${simulator.url}/v1/completion`, {
      method: "POST",
      headers: { authorization: "Bearer test-key" },
      body: "{}",
    });
    expect(response.statusCode).toBe(404);
    expect(await response.body.json()).toEqual({
      error: {
        message: "Invalid URL (POST /v1/completion)",
        type: "invalid_request_error",
        param: null,
        code: null,
      },
    });
  });
});
