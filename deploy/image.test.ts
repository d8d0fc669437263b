import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The Dockerfile cannot be built here (no Docker engine), so it is read: its
// stages and rules are checked, and its install stage's own command runs in a
// scratch folder with the lock as committed, from the npm cache.

const dockerfile = readFileSync("Dockerfile", "utf8");
const packageJson = JSON.parse(readFileSync("package.json", "utf8")) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
  packages: Record<
    string,
    { dev?: boolean; devOptional?: boolean; optional?: boolean; engines?: { node?: string } }
  >;
};

interface Stage {
  base: string;
  name?: string;
  instructions: { keyword: string; argument: string }[];
}

/** The Dockerfile's stages, continuation lines joined, comments dropped. */
function stagesOf(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = "", argument = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === "FROM") {
      const [base = "", , name] = argument.split(/\s+/);
      stages.push({ base, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), argument });
    }
  }
  return stages;
}

const stages = stagesOf(dockerfile);
const installStage = stages.find((stage) => stage.name === "install");
const runtimeStage = stages.at(-1) as Stage;
const NODE_VERSION = /^node:(\d+\.\d+\.\d+)-/.exec(runtimeStage.base)?.[1] ?? "";

/** The npm commands of the install stage, as `sh -c` would run them. */
function installCommands(): string[] {
  return (installStage?.instructions ?? [])
    .filter((instruction) => instruction.keyword === "RUN")
    .flatMap((instruction) => instruction.argument.split(/\s*&&\s*/))
    .filter((command) => /^npm\s+(install|ci|prune)\b/.test(command));
}

/** The sources the runtime stage copies from the build context. */
function copiedSources(): string[] {
  return runtimeStage.instructions
    .filter(
      (instruction) => instruction.keyword === "COPY" && !instruction.argument.includes("--from"),
    )
    .flatMap((instruction) => instruction.argument.split(/\s+/).slice(0, -1))
    .filter((source) => !source.startsWith("--"));
}

/** Version `version` satisfies `range`, for the forms engines fields use. */
function satisfies(version: string, range: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
  const value = major * 1e6 + minor * 1e3 + patch;
  const parse = (text: string) => {
    const [a = 0, b = 0, c = 0] = text.replace(/\.x$/, "").split(".").map(Number);
    return { major: a, value: a * 1e6 + b * 1e3 + c };
  };
  return range.split("||").some((part) => {
    const trimmed = part.trim();
    if (trimmed === "*" || trimmed === "") return true;
    const greater = /^>=\s*(\S+)$/.exec(trimmed);
    if (greater) return value >= parse(greater[1] as string).value;
    const caret = /^\^(\S+)$/.exec(trimmed);
    if (caret) {
      const bound = parse(caret[1] as string);
      return major === bound.major && value >= bound.value;
    }
    throw new Error(`an engines range this test cannot read: "${range}"`);
  });
}

/** Relative imports reachable from `entries`, as repository paths. */
function importGraph(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    // A folder read at run time (clickhouse/migrations/): reached, not parsed.
    if (statSync(file).isDirectory()) continue;
    const source = readFileSync(file, "utf8");
    const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|new URL\(\s*)["'](\.{1,2}\/[^"']+)["']/g;
    for (const match of source.matchAll(pattern)) {
      pending.push(normalize(join(dirname(file), match[1] as string)));
    }
  }
  return seen;
}

describe("the Dockerfile", () => {
  it("installs in one stage and copies only the runtime into another", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(installStage).toBeDefined();
    expect(installCommands().length).toBeGreaterThan(0);
    const fromInstall = runtimeStage.instructions.filter(
      (instruction) =>
        instruction.keyword === "COPY" && instruction.argument.includes("--from=install"),
    );
    expect(fromInstall.map((instruction) => instruction.argument)).toEqual([
      "--from=install /app/node_modules ./node_modules",
    ]);
    // Nothing copied wholesale: not `.`, not tests or benchmarks.
    for (const source of copiedSources())
      expect(source).not.toMatch(/^\.\/?$|^(test|bench|docs|data)\b/);
  });

  it("installs with the lock as committed: npm install, never npm ci, without dev dependencies", () => {
    for (const command of installCommands()) {
      expect(command).toMatch(/^npm install\b/);
      expect(command).toContain("--omit=dev");
    }
  });

  it("runs as node, on a pinned Node LTS, with a HEALTHCHECK on /healthz that needs no curl", () => {
    const of = (keyword: string) =>
      runtimeStage.instructions.filter((instruction) => instruction.keyword === keyword);
    expect(of("USER").at(-1)?.argument).toBe("node");
    for (const stage of stages) expect(stage.base).toBe(runtimeStage.base);
    // An even major is an LTS line; 22 and 24 are the ones in support.
    expect(NODE_VERSION).toMatch(/^(22|24)\.\d+\.\d+$/);
    const healthcheck = of("HEALTHCHECK").at(-1)?.argument ?? "";
    expect(healthcheck).toContain('"node", "-e"');
    expect(healthcheck).toContain("fetch(process.env.HEALTHCHECK_URL)");
    expect(healthcheck).not.toMatch(/curl|wget/);
    expect(of("ENV").map((instruction) => instruction.argument)).toContain(
      "HEALTHCHECK_URL=http://127.0.0.1:8080/healthz",
    );
  });

  it("copies every folder the CLI's imports reach", () => {
    const reached = importGraph(["bin/switchboard.js", "cli/main.ts"]);
    const folders = new Set(
      [...reached].map((file) => relative(".", file).split("/")[0] as string),
    );
    const copied = new Set(copiedSources());
    for (const folder of folders)
      expect(copied, `${folder}/ is imported but not copied`).toContain(folder);
    // Nothing test-only is reached from the CLI.
    expect([...reached].filter((file) => /\.test\.ts$|^test\//.test(file))).toEqual([]);
  });

  it(".dockerignore leaves out tests, benchmarks, docs and data, and none of what is copied", () => {
    const ignored = readFileSync(".dockerignore", "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    for (const entry of ["test", "bench", "docs", "data", "**/*.test.ts", "node_modules", ".git"]) {
      expect(ignored).toContain(entry);
    }
    for (const source of copiedSources()) expect(ignored).not.toContain(source);
  });
});

describe("package.json engines", () => {
  const floor = /^>=(\d+\.\d+\.\d+)$/.exec(packageJson.engines.node)?.[1] ?? "";

  it("ask for what the dependencies demand, and the image's Node meets them", () => {
    expect(floor).not.toBe("");
    expect(satisfies(NODE_VERSION, packageJson.engines.node)).toBe(true);
    // Every locked package that runs or builds here accepts the lowest Node
    // the engines allow (cookie 2, under fastify's light-my-request, wants 22).
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = entry.engines?.node;
      if (!path || !range || entry.optional) continue;
      expect(satisfies(floor, range), `${path} wants Node ${range}`).toBe(true);
      expect(satisfies(NODE_VERSION, range), `${path} wants Node ${range}`).toBe(true);
    }
  });

  it("test-only packages are development dependencies", () => {
    // apache-arrow reads exports back in tests and benchmarks; no product code imports it.
    expect(packageJson.dependencies["apache-arrow"]).toBeUndefined();
    expect(packageJson.devDependencies["apache-arrow"]).toBeDefined();
  });
});

describe("the install stage's command, run on the lock as committed", () => {
  const scratch = mkdtempSync(join(tmpdir(), "switchboard-image-install-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("installs the locked production dependencies, leaves the lock as it was, and the runtime starts", () => {
    const committedLock = readFileSync("package-lock.json", "utf8");
    writeFileSync(join(scratch, "package.json"), readFileSync("package.json"));
    writeFileSync(join(scratch, "package-lock.json"), committedLock);
    const environment = {
      ...process.env,
      // From the npm cache this machine already holds; the registry only for what it lacks.
      npm_config_prefer_offline: "true",
      npm_config_update_notifier: "false",
      npm_config_loglevel: "error",
    };
    for (const command of installCommands()) {
      const run = spawnSync("sh", ["-c", command], {
        cwd: scratch,
        env: environment,
        encoding: "utf8",
        timeout: 280_000,
      });
      expect(run.stderr, command).not.toMatch(/npm error/);
      expect(run.status, `${command}\n${run.stderr}`).toBe(0);
    }
    expect(readFileSync(join(scratch, "package-lock.json"), "utf8")).toBe(committedLock);
    for (const name of Object.keys(packageJson.dependencies)) {
      expect(existsSync(join(scratch, "node_modules", name)), `${name} missing`).toBe(true);
    }
    // Development-only packages stay out. (apache-arrow is devOptional, not
    // dev: chdb names it as an optional peer, so npm still installs it with
    // --omit=dev; 12 MB beside chDB's engine, and no product code imports it.)
    for (const name of Object.keys(packageJson.devDependencies)) {
      if (lock.packages[`node_modules/${name}`]?.dev) {
        expect(existsSync(join(scratch, "node_modules", name)), `${name} installed`).toBe(false);
      }
    }
    expect(existsSync(join(scratch, "node_modules", "vitest"))).toBe(false);

    // The folders the runtime stage copies, without tests, then the CLI and
    // the embedded engine on the production install alone.
    for (const source of copiedSources()) {
      if (source === "package.json") continue;
      cpSync(source, join(scratch, source), {
        recursive: true,
        filter: (path) => !path.endsWith(".test.ts"),
      });
    }
    const help = spawnSync(process.execPath, ["bin/switchboard.js", "help"], {
      cwd: scratch,
      encoding: "utf8",
    });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: switchboard <role>/);
    const migrate = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { createClickHouse } = await import("./clickhouse/client.ts");
           const { migrate } = await import("./clickhouse/migrate.ts");
           const client = createClickHouse("chdb:${join(scratch, "data", "clickhouse")}");
           console.log(JSON.stringify(await migrate(client)));
           await client.close();`,
      ],
      { cwd: scratch, encoding: "utf8", timeout: 120_000 },
    );
    expect(migrate.status, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout.trim().split("\n").at(-1) ?? "[]")).toContain(
      "0001_event_tables.sql",
    );
  }, 400_000);
});
