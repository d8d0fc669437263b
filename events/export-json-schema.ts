// Writes one JSON Schema file per event type and version into events/json-schema/,
// for warehouse consumers that do not read TypeScript. `npm run events:schemas`.
import { mkdirSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { ALL_SCHEMAS } from "./schemas.ts";

export const JSON_SCHEMA_DIRECTORY = new URL("./json-schema/", import.meta.url);

export function jsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [eventType, versions] of Object.entries(ALL_SCHEMAS)) {
    for (const [version, schema] of Object.entries(versions)) {
      const name = `${eventType}.v${version}.json`;
      const document = {
        $id: `https://switchboard.dev/events/${name}`,
        title: eventType,
        ...z.toJSONSchema(schema, { target: "draft-2020-12" }),
      };
      files.set(name, `${JSON.stringify(document, null, 2)}\n`);
    }
  }
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(JSON_SCHEMA_DIRECTORY, { recursive: true });
  for (const [name, text] of jsonSchemaFiles()) {
    writeFileSync(new URL(name, JSON_SCHEMA_DIRECTORY), text);
    console.log(`wrote events/json-schema/${name}`);
  }
}
