#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, from any working directory.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
