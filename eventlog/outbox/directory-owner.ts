// One process owns an outbox folder at a time: two would drain the same
// records twice and fight over the drain position. The claim is a file
// holding the owner's pid, taken with O_EXCL; a file left by a process that
// no longer runs (a SIGKILL) is taken over.
import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";

const OWNER_FILE = ".owner";

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Claims `directory` for this process; resolves with the function that gives it back. */
export async function claimDirectory(directory: string): Promise<() => Promise<void>> {
  const path = join(directory, OWNER_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const handle = await open(path, "wx", 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && (owner === process.pid || isRunning(owner))) {
      throw new Error(`outbox ${directory} is in use by process ${owner}`);
    }
    // Its owner is gone: the claim is stale.
    await unlink(path).catch(() => {});
  }
  throw new Error(`could not claim outbox ${directory}`);
}
