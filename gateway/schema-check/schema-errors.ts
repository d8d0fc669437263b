// Why an answer failed its JSON Schema, in words safe to store: a JSON
// pointer into the answer and a fixed phrase per keyword. Ajv's own messages
// and error params can quote the answer (a key an additionalProperties error
// names, a property name), and its instancePath holds the answer's keys (a
// key `patient John Smith HIV+` under patternProperties), so neither is used
// as it is: every object key in the pointer that the schema itself does not
// declare is written `*`, and array indexes are kept.
import type { ErrorObject } from "ajv";

const JSON_TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);

const PHRASES: Record<string, string> = {
  additionalProperties: "has a property the schema does not allow",
  unevaluatedProperties: "has a property no subschema evaluated",
  propertyNames: "has a property name the schema does not allow",
  enum: "is not one of the allowed values",
  const: "is not the required constant",
  pattern: "does not match its pattern",
  format: "does not match its format",
  minLength: "is shorter than allowed",
  maxLength: "is longer than allowed",
  minimum: "is below the minimum",
  exclusiveMinimum: "is below the minimum",
  maximum: "is above the maximum",
  exclusiveMaximum: "is above the maximum",
  multipleOf: "is not a multiple the schema allows",
  minItems: "has fewer items than allowed",
  maxItems: "has more items than allowed",
  items: "has more items than allowed",
  additionalItems: "has more items than allowed",
  unevaluatedItems: "has items no subschema evaluated",
  uniqueItems: "has duplicate items",
  minProperties: "has fewer properties than allowed",
  maxProperties: "has more properties than allowed",
  contains: "does not contain the number of matching items the schema asks",
  anyOf: "matches none of the anyOf schemas",
  oneOf: "does not match exactly one of the oneOf schemas",
  not: "matches a schema it must not",
  if: "does not match the then or else schema",
  "false schema": "is not allowed (a false schema)",
};

/**
 * Every name the schema declares (under `properties`, `required`,
 * `dependentRequired`, `dependentSchemas`, `dependencies`), for telling the
 * answer's keys that are the schema's words from the others. Walked with a
 * stack: a deep schema cannot overflow it.
 */
export function declaredNamesOf(schema: unknown): Set<string> {
  const names = new Set<string>();
  const pending: unknown[] = [schema];
  while (pending.length > 0) {
    const node = pending.pop();
    if (Array.isArray(node)) {
      for (const item of node) pending.push(item);
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    for (const [keyword, value] of Object.entries(node)) {
      pending.push(value);
      if (
        keyword === "required" ||
        keyword === "properties" ||
        keyword === "dependentRequired" ||
        keyword === "dependentSchemas" ||
        keyword === "dependencies"
      ) {
        addNames(names, value);
      }
    }
  }
  return names;
}

function addNames(names: Set<string>, value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) if (typeof item === "string") names.add(item);
  } else if (value !== null && typeof value === "object") {
    for (const [name, inner] of Object.entries(value)) {
      names.add(name);
      // dependentRequired: {"a": ["b", "c"]}
      if (Array.isArray(inner)) addNames(names, inner);
    }
  }
}

/** `"/population must be integer"`, `"/items/3/* is not one of the allowed values"`. */
export function describeSchemaError(
  error: ErrorObject,
  answer: unknown,
  declared: ReadonlySet<string>,
): string {
  const pointer = safePointer(error.instancePath, answer, declared);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "type": {
      const types = String(params.type ?? "").split(",");
      return types.every((type) => JSON_TYPES.has(type))
        ? `${pointer} must be ${types.join(" or ")}`
        : `${pointer} has the wrong type`;
    }
    case "required":
    case "dependentRequired":
    case "dependencies": {
      const missing = params.missingProperty;
      return typeof missing === "string" && declared.has(missing)
        ? `${child(pointer, escapeSegment(missing))} is missing (required)`
        : `${pointer} misses a required property`;
    }
    default:
      return `${pointer} ${PHRASES[error.keyword] ?? "does not satisfy the schema"}`;
  }
}

/**
 * The error's place in the answer, walked in the answer itself: a segment
 * that indexes an array is kept; one that names an object's key is kept only
 * when the schema declares that name, else written `*`.
 */
export function safePointer(
  instancePath: string,
  answer: unknown,
  declared: ReadonlySet<string>,
): string {
  if (instancePath === "") return "/";
  let node: unknown = answer;
  let pointer = "";
  for (const raw of instancePath.slice(1).split("/")) {
    const segment = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(node)) {
      const isIndex = /^(0|[1-9][0-9]{0,9})$/.test(segment);
      pointer += `/${isIndex ? segment : "*"}`;
      node = isIndex ? node[Number(segment)] : undefined;
    } else {
      pointer += `/${declared.has(segment) ? escapeSegment(segment) : "*"}`;
      node =
        node !== null && typeof node === "object" && Object.hasOwn(node, segment)
          ? (node as Record<string, unknown>)[segment]
          : undefined;
    }
  }
  return pointer;
}

function child(pointer: string, segment: string): string {
  return pointer === "/" ? `/${segment}` : `${pointer}/${segment}`;
}

function escapeSegment(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}
