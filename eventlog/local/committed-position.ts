// A consumer group's committed position in one topic of the local log:
// `<topic>/.consumers/<group>`, holding `{"next_offset": N}` — the offset of the
// first record the group has not yet stored. A missing file means "from the start".
import { open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { makeDirectoryDurably, syncDirectory } from "./segment-files.ts";

const CONSUMERS_DIRECTORY = ".consumers";

function positionPath(topicDirectory: string, group: string): string {
  return join(topicDirectory, CONSUMERS_DIRECTORY, group);
}

export async function readCommittedPosition(
  topicDirectory: string,
  group: string,
): Promise<number> {
  const path = positionPath(topicDirectory, group);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  const nextOffset = (JSON.parse(text) as { next_offset?: unknown }).next_offset;
  if (typeof nextOffset !== "number" || !Number.isSafeInteger(nextOffset) || nextOffset < 0) {
    throw new Error(`${path} holds no valid next_offset: ${text.slice(0, 200)}`);
  }
  return nextOffset;
}

/**
 * Replaces the position atomically and durably: write a temp file → fsync it
 * → rename over the old one → fsync the folder. A crash at any step leaves
 * either the old position or the new one, never a torn file; an old one only
 * means the records after it are delivered again (at least once).
 */
export async function writeCommittedPosition(
  topicDirectory: string,
  group: string,
  nextOffset: number,
): Promise<void> {
  const consumersDirectory = join(topicDirectory, CONSUMERS_DIRECTORY);
  await makeDirectoryDurably(consumersDirectory);
  const path = positionPath(topicDirectory, group);
  const temporaryPath = `${path}.${process.pid}.tmp`;
  const handle = await open(temporaryPath, "w", 0o644);
  try {
    await handle.writeFile(`${JSON.stringify({ next_offset: nextOffset })}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporaryPath, path);
  await syncDirectory(consumersDirectory);
}

/** Forgets a group's position in the topic (a replay's group, once it is done). */
export async function removeCommittedPosition(
  topicDirectory: string,
  group: string,
): Promise<void> {
  await rm(positionPath(topicDirectory, group), { force: true });
}
