// A schema failure's comment is a pointer and a fixed phrase: the answer's
// values and undeclared keys never reach it, whatever keyword failed.
import { describe, expect, it } from "vitest";
import { declaredNamesOf, describeSchemaError } from "./schema-errors.ts";
import { ValidatorCache } from "./validator-cache.ts";

const MARK = "LEAKMARK7f3a";
const cache = new ValidatorCache();

/** The comment a failing answer gets, validated the way the checker's thread does. */
function commentFor(schema: object, answer: unknown): string {
  const schemaJson = JSON.stringify(schema);
  const compiled = cache.get(schemaJson, schemaJson);
  if ("refused" in compiled) throw new Error(`schema refused: ${compiled.refused}`);
  expect(compiled.validate(answer)).toBe(false);
  const error = compiled.validate.errors?.at(-1);
  if (!error) throw new Error("no error");
  return describeSchemaError(error, answer, compiled.declared);
}

const person = {
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } },
  required: ["name", "age"],
};

describe("describeSchemaError", () => {
  it.each<[string, object, unknown, string]>([
    ["type", person, { name: MARK, age: MARK }, "/age must be integer"],
    ["type, several", { type: ["string", "null"] }, 5, "/ must be string or null"],
    ["required", person, { name: MARK }, "/age is missing (required)"],
    ["minimum", person, { name: MARK, age: -1 }, "/age is below the minimum"],
    [
      "additionalProperties names no key",
      { ...person, additionalProperties: false },
      { name: "a", age: 1, [MARK]: MARK },
      "/ has a property the schema does not allow",
    ],
    [
      "a key matched by patternProperties is written *",
      { type: "object", patternProperties: { "^p": { type: "integer" } } },
      { [`p ${MARK} John Smith HIV+`]: MARK },
      "/* must be integer",
    ],
    [
      "additionalProperties' subschema at an undeclared key",
      { type: "object", additionalProperties: { type: "integer" } },
      { [MARK]: MARK },
      "/* must be integer",
    ],
    [
      "a numeric key of an object is a key, not an index",
      { type: "object", additionalProperties: { type: "integer" } },
      { "123456789": MARK },
      "/* must be integer",
    ],
    [
      "array indexes are kept",
      { type: "array", items: person },
      [
        { name: "a", age: 1 },
        { name: MARK, age: MARK },
      ],
      "/1/age must be integer",
    ],
    [
      "propertyNames",
      { type: "object", propertyNames: { pattern: "^[a-z]+$" } },
      { [MARK]: 1 },
      "/ has a property name the schema does not allow",
    ],
    ["enum", { enum: ["a", "b"] }, MARK, "/ is not one of the allowed values"],
    ["const", { const: "a" }, MARK, "/ is not the required constant"],
    ["pattern", { type: "string", pattern: "^a+$" }, MARK, "/ does not match its pattern"],
    ["format", { type: "string", format: "email" }, MARK, "/ does not match its format"],
    ["maxLength", { type: "string", maxLength: 3 }, MARK, "/ is longer than allowed"],
    ["uniqueItems", { uniqueItems: true }, [MARK, MARK], "/ has duplicate items"],
    [
      "anyOf",
      { anyOf: [{ type: "integer" }, { type: "boolean" }] },
      MARK,
      "/ matches none of the anyOf schemas",
    ],
    ["not", { not: { type: "string" } }, MARK, "/ matches a schema it must not"],
    [
      "false schema",
      { properties: { x: false } },
      { x: MARK },
      "/x is not allowed (a false schema)",
    ],
    [
      "dependentRequired",
      { dependentRequired: { card: ["billing"] } },
      { card: MARK },
      "/billing is missing (required)",
    ],
    [
      "a key with / and ~ in a pointer is escaped",
      { type: "object", properties: { "a/b~c": { type: "integer" } } },
      { "a/b~c": MARK },
      "/a~1b~0c must be integer",
    ],
  ])("%s", (_case, schema, answer, expected) => {
    const comment = commentFor(schema, answer);
    expect(comment).toBe(expected);
    expect(comment).not.toContain(MARK);
  });
});

describe("declaredNamesOf", () => {
  it("gathers the names under properties, required and dependencies, at any depth", () => {
    const deep = {
      $defs: {
        a: {
          properties: { inner: {} },
          required: ["needed"],
          dependentRequired: { when: ["then"] },
          dependentSchemas: { other: {} },
        },
      },
      items: [{ properties: { listed: {} } }],
    };
    expect([...declaredNamesOf(deep)].sort()).toEqual([
      "inner",
      "listed",
      "needed",
      "other",
      "then",
      "when",
    ]);
  });

  it("walks a schema nested 100,000 deep without overflowing", () => {
    let schema: object = { properties: { leaf: {} } };
    for (let level = 0; level < 100_000; level++) schema = { items: schema };
    expect(declaredNamesOf(schema).has("leaf")).toBe(true);
  });
});
