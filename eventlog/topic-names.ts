// Kafka's own rule for topic names, which the local log also uses for its
// folder and consumer-position file names: a name that is valid here is a safe
// file name on every platform and a topic Kafka accepts, so the two adapters
// agree on which names exist.
const LEGAL_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** Throws unless `name` is a legal topic (or, for the local log, group) name. */
export function assertLegalName(kind: "topic" | "consumer group", name: string): void {
  // A leading dot would collide with the local log's hidden `.consumers` folder.
  if (!LEGAL_NAME.test(name) || name.startsWith(".")) {
    throw new Error(
      `invalid ${kind} name ${JSON.stringify(name)}: use 1 to 249 of [A-Za-z0-9._-], not starting with "."`,
    );
  }
}
