export * from "./ids.ts";
export * from "./money.ts";
export * from "./parse.ts";
export * from "./schemas.ts";
export * from "./topics.ts";
export { currentVersion, upcast } from "./upcasters.ts";
