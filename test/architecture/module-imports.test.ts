// The module import rules of docs/architecture.md, enforced: the test reads the table
// "Modules and their imports" from the page itself, so the rule and its check cannot
// drift apart, then reads every import of every file (static, `export … from`, dynamic
// `import()` with a literal, type-only ones too) and fails on each one the table does
// not allow, naming the rule it breaks.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ARCHITECTURE = "docs/architecture.md";
const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;
const NOT_OURS = new Set(["node_modules", "data", ".git"]);
/** Code that only tests and measures the product, and never ships in it. */
const TEST_MODULES = ["test", "bench"];

interface Rule {
  module: string;
  /** The modules it may import, or "everything". */
  allowed: string[] | "everything";
  /** The cell as written, for the failure message. */
  text: string;
}

/** The table's rows: `| \`gateway/\` | job | \`events/\`, \`eventlog/\` |`. */
function readRules(): Map<string, Rule> {
  const page = readFileSync(join(ROOT, ARCHITECTURE), "utf8");
  const section = page.split(/^## /m).find((part) => part.startsWith("Modules and their imports"));
  if (section === undefined)
    throw new Error(`${ARCHITECTURE} has no "## Modules and their imports"`);
  const rules = new Map<string, Rule>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const module = /^`([a-z-]+)\/`$/.exec(cells[1] ?? "")?.[1];
    if (module === undefined) continue;
    const text = cells[3] ?? "";
    if (text === "none") rules.set(module, { module, allowed: [], text });
    else if (text === "everything") rules.set(module, { module, allowed: "everything", text });
    else {
      const allowed = [...text.matchAll(/`([a-z-]+)\/`/g)].map((match) => match[1] as string);
      if (allowed.length === 0)
        throw new Error(`${ARCHITECTURE}: \`${module}/\` imports "${text}": not a list of modules`);
      rules.set(module, { module, allowed, text });
    }
  }
  return rules;
}

/** Every file of code under `folder`, relative to the root, with `/` separators. */
function codeFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    if (NOT_OURS.has(entry.name)) continue;
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory()) files.push(...codeFiles(path));
    else if (CODE.test(entry.name)) files.push(path);
  }
  return files;
}

/** The top-level folders that hold code. */
function codeFolders(): string[] {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !NOT_OURS.has(entry.name))
    .filter((entry) => !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .filter((folder) => codeFiles(folder).length > 0)
    .sort();
}

interface Import {
  file: string;
  /** The imported path relative to the root, `/` separators; may start with `..`. */
  target: string;
}

/** The relative imports of a file, resolved against the root. Packages are not ours. */
function importsOf(file: string): Import[] {
  const source = readFileSync(join(ROOT, file), "utf8");
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles
    .map((reference) => reference.fileName)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => ({
      file,
      target: normalize(join(dirname(file), specifier))
        .split(sep)
        .join("/"),
    }));
}

const moduleOf = (path: string) => path.split("/")[0] as string;
const isTestCode = (file: string) =>
  file.endsWith(".test.ts") || TEST_MODULES.includes(moduleOf(file));

const rules = readRules();
const folders = codeFolders();
const imports = folders.flatMap((folder) => codeFiles(folder).flatMap(importsOf));
const productImports = imports.filter((each) => !isTestCode(each.file));

describe(`the module import rules of ${ARCHITECTURE}`, () => {
  it("has a row for every folder of code, and none for a folder that is not one", () => {
    expect(rules.size, "the table was not found or not read").toBeGreaterThan(5);
    expect(folders.filter((folder) => !rules.has(folder))).toEqual([]);
    expect([...rules.keys()].filter((module) => !folders.includes(module))).toEqual([]);
  });

  it("every import stays inside the repository", () => {
    const outside = imports.filter((each) => each.target.startsWith("../"));
    expect(outside.map((each) => `${each.file} imports ${each.target}`)).toEqual([]);
  });

  it(`product code never imports ${TEST_MODULES.map((module) => `${module}/`).join(" or ")}`, () => {
    const broken = productImports.filter((each) => TEST_MODULES.includes(moduleOf(each.target)));
    expect(
      broken.map(
        (each) => `${each.file} imports ${each.target}: product code never imports test code`,
      ),
    ).toEqual([]);
  });

  for (const rule of rules.values()) {
    if (rule.allowed === "everything") continue;
    const allowed = new Set(rule.allowed);
    const permission =
      rule.allowed.length === 0
        ? "no module of ours"
        : `only ${rule.allowed.map((module) => `${module}/`).join(", ")}`;
    it(`\`${rule.module}/\` imports ${permission}`, () => {
      const broken = productImports.filter((each) => {
        const target = moduleOf(each.target);
        return (
          moduleOf(each.file) === rule.module &&
          target !== rule.module &&
          folders.includes(target) &&
          !allowed.has(target)
        );
      });
      expect(
        broken.map(
          (each) =>
            `${each.file} imports ${each.target}: ${ARCHITECTURE} lets \`${rule.module}/\` import ${rule.text}`,
        ),
      ).toEqual([]);
    });
  }
});
