// Scripted answers: a test that needs a given reply (a grader passing or failing, JSON that
// does not parse, bad tool arguments) gets it exactly, in every protocol, whole and streamed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "./index.ts";

let simulator: RunningSimulator;
beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "a" }, { id: "b" }],
    scripts: [
      { whenLastMessageContains: "capital of France", model: "b", reply: "Lyon, I think." },
      { whenLastMessageContains: "capital of France", reply: "Paris is the capital." },
      {
        whenLastMessageContains: "weather",
        toolCall: { name: "get_weather", argumentsJson: '{"city": "Par' },
      },
    ],
  });
});
afterAll(() => simulator.close());

async function chat(body: Record<string, unknown>) {
  const response = await fetch(`${simulator.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer x", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response;
}

const ask = (content: string) => [
  { role: "system", content: "be brief about the capital of France" },
  { role: "user", content },
];

describe("scripted replies", () => {
  it("answers the first script that applies, per model, exactly", async () => {
    const onA = await (await chat({ model: "a", messages: ask("The capital of France?") })).json();
    expect(onA.choices[0].message.content).toBe("Paris is the capital.");
    expect(onA.choices[0].finish_reason).toBe("stop");
    expect(onA.usage.completion_tokens).toBe(4);
    const onB = await (await chat({ model: "b", messages: ask("The capital of France?") })).json();
    expect(onB.choices[0].message.content).toBe("Lyon, I think.");
  });

  it("reads only the last message, and draws words when no script applies", async () => {
    const answer = await (await chat({ model: "a", messages: ask("Name a river.") })).json();
    expect(answer.choices[0].message.content).not.toContain("Paris");
  });

  it("cuts a scripted reply at max_tokens with finish_reason length", async () => {
    const answer = await (
      await chat({ model: "a", max_tokens: 2, messages: ask("capital of France") })
    ).json();
    expect(answer.choices[0].message.content).toBe("Paris is ");
    expect(answer.choices[0].finish_reason).toBe("length");
  });

  it("makes a tool call with the scripted arguments, even invalid JSON, streamed too", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: {} } }];
    const whole = await (
      await chat({ model: "a", tools, messages: [{ role: "user", content: "weather?" }] })
    ).json();
    expect(whole.choices[0].message.tool_calls[0].function).toEqual({
      name: "get_weather",
      arguments: '{"city": "Par',
    });
    expect(whole.choices[0].finish_reason).toBe("tool_calls");
    const streamed = await (
      await chat({
        model: "a",
        stream: true,
        tools,
        messages: [{ role: "user", content: "weather?" }],
      })
    ).text();
    let argumentsJson = "";
    for (const line of streamed.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      const delta = JSON.parse(line.slice(6)).choices[0]?.delta;
      for (const call of delta?.tool_calls ?? []) argumentsJson += call.function?.arguments ?? "";
    }
    expect(argumentsJson).toBe('{"city": "Par');
  });

  it("refuses a script with neither reply nor toolCall", async () => {
    await expect(
      startSimulator({ models: [{ id: "a" }], scripts: [{ whenLastMessageContains: "x" }] }),
    ).rejects.toThrow(/either reply or toolCall/);
  });
});
