// The schema checker's thread starts here: it runs worker.ts through tsx, as
// bin/switchboard.js does the process (a worker thread has loaders of its own).
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
