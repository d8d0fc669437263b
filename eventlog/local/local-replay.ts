import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { ReplaySource } from "../ports.ts";
import { removeCommittedPosition } from "./committed-position.ts";
import { LocalLogSource, type LocalLogSourceOptions } from "./local-log-source.ts";
import { endOffsetOf } from "./segment-files.ts";

/**
 * Opens a replay of `topics` of the local log under a group made for it,
 * from offset 0 to the end taken now. The local log keeps no time index, so
 * there is no `from`: it always replays everything, which the idempotent load
 * makes give the same result, only slower.
 */
export async function openLocalReplay(
  topics: string[],
  options: Omit<LocalLogSourceOptions, "group" | "topics"> & { directory: string },
): Promise<ReplaySource> {
  const endOffsets = new Map<string, bigint>();
  for (const topic of topics) {
    const end = await endOffsetOf(join(options.directory, topic));
    const endOffset = end.segment + end.records;
    if (endOffset > 0) endOffsets.set(`${topic}/0`, BigInt(endOffset));
  }
  const group = `replay-${Date.now()}-${randomUUID().slice(0, 8)}`;
  return {
    source: new LocalLogSource({ ...options, group, topics }),
    group,
    endOffsets,
    async cleanUp() {
      await Promise.all(
        topics.map((topic) => removeCommittedPosition(join(options.directory, topic), group)),
      );
    },
  };
}
