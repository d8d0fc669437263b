import { join } from "node:path";
import type { EventSource } from "../ports.ts";
import { readCommittedPosition, writeCommittedPosition } from "./committed-position.ts";
import { LocalLogSource, type LocalLogSourceOptions } from "./local-log-source.ts";

/**
 * The local log's follower (see openKafkaFollower): group
 * `switchboard-follow-<name>`, whose position in each topic is set to the
 * group `after`'s before it starts. The local log has one process writing it,
 * so one follower of a name at a time, and it may keep its group.
 */
export async function openLocalFollower(
  topics: string[],
  options: Omit<LocalLogSourceOptions, "group" | "topics"> & {
    directory: string;
    after: string;
    name: string;
  },
): Promise<EventSource> {
  const { after, name, ...sourceOptions } = options;
  const group = `switchboard-follow-${name}`;
  for (const topic of topics) {
    const topicDirectory = join(options.directory, topic);
    const position = await readCommittedPosition(topicDirectory, after);
    await writeCommittedPosition(topicDirectory, group, position);
  }
  return new LocalLogSource({ ...sourceOptions, group, topics });
}
