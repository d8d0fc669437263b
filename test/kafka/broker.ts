// A real Apache Kafka broker (KRaft, one node that is both broker and controller)
// on 127.0.0.1, run from the jars that install.sh fetched from Maven Central.
// Tests use it instead of a mock so that the producer, consumer group and restart
// behaviour they check is Kafka's own.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";

const KAFKA_VERSION = "3.9.2";
const STARTUP_TIMEOUT_MILLISECONDS = 60_000;
const FORMAT_TIMEOUT_MILLISECONDS = 30_000;
// vitest gives global teardown 10 s before it exits the process, so a broker that
// ignores SIGTERM is killed well within that.
const GRACEFUL_STOP_TIMEOUT_MILLISECONDS = 8_000;
const READINESS_PROBE_INTERVAL_MILLISECONDS = 200;
const LOG_TAIL_LINES = 40;

const runExecutable = promisify(execFile);

export interface KafkaBrokerOptions {
  /** Kafka's `log.dirs`, where the records live; defaults to a fresh temp dir. */
  logDir?: string;
  /** Where install.sh put the jars (`<kafkaHome>/libs`). */
  kafkaHome?: string;
}

export interface KafkaBroker {
  /** Bootstrap address for clients: `127.0.0.1:PORT`. Stays the same across restarts. */
  readonly brokers: string;
  /** Kafka's `log.dirs`: the records, kept across stop/start and kill/start. */
  readonly logDir: string;
  /** The broker's own log (log4j, WARN and above). */
  readonly brokerLogFile: string;
  /** Starts the stopped broker again on the same ports and log dir. */
  start(): Promise<void>;
  /** SIGTERM (a clean shutdown), then SIGKILL if it has not exited in time. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, leaving Kafka to recover its logs at the next start. */
  kill(): Promise<void>;
  /** Stops the broker and deletes the files it created (never a caller's logDir). */
  destroy(): Promise<void>;
}

export function defaultKafkaHome(): string {
  return (
    process.env.SWITCHBOARD_KAFKA_HOME ??
    join(homedir(), ".cache", "switchboard", `kafka-${KAFKA_VERSION}`)
  );
}

export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const librariesDir = findInstalledLibraries(options.kafkaHome ?? defaultKafkaHome());
  const workDir = await mkdtemp(join(tmpdir(), "switchboard-kafka-"));
  try {
    return await startInWorkDir(librariesDir, workDir, options.logDir ?? join(workDir, "data"));
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

async function startInWorkDir(
  librariesDir: string,
  workDir: string,
  logDir: string,
): Promise<KafkaBroker> {
  await mkdir(logDir, { recursive: true });
  const [brokerPort, controllerPort] = await findFreePorts(2);
  if (brokerPort === undefined || controllerPort === undefined) {
    throw new Error("could not find two free ports on 127.0.0.1");
  }
  const files: BrokerFiles = {
    workDir,
    logDir,
    serverProperties: join(workDir, "server.properties"),
    log4jProperties: join(workDir, "log4j.properties"),
    brokerLogFile: join(workDir, "broker.log"),
    consoleLogFile: join(workDir, "console.log"),
  };
  await writeFile(files.serverProperties, brokerProperties({ brokerPort, controllerPort, logDir }));
  await writeFile(files.log4jProperties, log4jProperties(files.brokerLogFile));
  await formatStorageOnce(librariesDir, files);
  const broker = new LocalKafkaBroker(librariesDir, `127.0.0.1:${brokerPort}`, files);
  await broker.start();
  return broker;
}

interface BrokerFiles {
  workDir: string;
  logDir: string;
  serverProperties: string;
  log4jProperties: string;
  brokerLogFile: string;
  consoleLogFile: string;
}

interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the JVM could not be run at all (no java on the PATH, say). */
  spawnError?: Error;
}

interface RunningBroker {
  process: ChildProcess;
  exited: Promise<ProcessExit>;
}

class LocalKafkaBroker implements KafkaBroker {
  readonly brokers: string;
  readonly logDir: string;
  readonly brokerLogFile: string;
  private running: RunningBroker | undefined;

  constructor(
    private readonly librariesDir: string,
    brokers: string,
    private readonly files: BrokerFiles,
  ) {
    this.brokers = brokers;
    this.logDir = files.logDir;
    this.brokerLogFile = files.brokerLogFile;
  }

  async start(): Promise<void> {
    if (this.running) {
      throw new Error(`Kafka broker at ${this.brokers} is already running`);
    }
    const running = await spawnBroker(this.librariesDir, this.files);
    this.running = running;
    running.exited.then(() => {
      if (this.running === running) this.running = undefined;
    });
    try {
      await waitUntilAcceptingClients(this.brokers, running.exited, STARTUP_TIMEOUT_MILLISECONDS);
    } catch (error) {
      await this.kill();
      throw new Error(
        `Kafka broker at ${this.brokers} did not start: ${errorMessage(error)}\n` +
          (await this.describeLogs()),
      );
    }
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.process.kill("SIGTERM");
    const exitedInTime = await withTimeout(running.exited, GRACEFUL_STOP_TIMEOUT_MILLISECONDS);
    if (exitedInTime === undefined) {
      running.process.kill("SIGKILL");
      await running.exited;
    }
  }

  async kill(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.process.kill("SIGKILL");
    await running.exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    // The default log dir lives inside the work dir; a caller's own is left alone.
    await rm(this.files.workDir, { recursive: true, force: true });
  }

  private async describeLogs(): Promise<string> {
    const brokerLog = await readTail(this.files.brokerLogFile);
    const consoleLog = await readTail(this.files.consoleLogFile);
    return `--- ${this.files.brokerLogFile} (tail) ---\n${brokerLog}\n--- ${this.files.consoleLogFile} (tail) ---\n${consoleLog}`;
  }
}

function findInstalledLibraries(kafkaHome: string): string {
  const librariesDir = join(kafkaHome, "libs");
  // install.sh writes the marker last, so its presence means libs/ is complete.
  if (!existsSync(join(kafkaHome, "installed")) || !existsSync(librariesDir)) {
    throw new Error(
      `Kafka ${KAFKA_VERSION} jars are not installed in ${librariesDir}: run \`npm run kafka:install\` first ` +
        "(it needs Java 17 and Maven; set SWITCHBOARD_KAFKA_HOME to install elsewhere).",
    );
  }
  return librariesDir;
}

function brokerProperties(settings: {
  brokerPort: number;
  controllerPort: number;
  logDir: string;
}): string {
  const properties: Record<string, string | number> = {
    "process.roles": "broker,controller",
    "node.id": 1,
    "controller.quorum.voters": `1@127.0.0.1:${settings.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${settings.brokerPort},CONTROLLER://127.0.0.1:${settings.controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${settings.brokerPort}`,
    "inter.broker.listener.name": "PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": settings.logDir,
    // One node: the internal topics cannot ask for more replicas than that.
    "offsets.topic.replication.factor": 1,
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    // Tests create every topic they use, so a typo fails instead of silently working.
    "auto.create.topics.enable": "false",
    "num.partitions": 1,
    // The default 3 s wait for more members would slow every consumer group join.
    "group.initial.rebalance.delay.ms": 0,
  };
  return Object.entries(properties)
    .map(([key, value]) => `${key}=${escapePropertyValue(String(value))}`)
    .join("\n")
    .concat("\n");
}

function log4jProperties(brokerLogFile: string): string {
  return [
    "log4j.rootLogger=WARN, file",
    "log4j.appender.file=org.apache.log4j.FileAppender",
    `log4j.appender.file.File=${escapePropertyValue(brokerLogFile)}`,
    "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
    "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
    "",
  ].join("\n");
}

// Java properties files treat a backslash as an escape character.
function escapePropertyValue(value: string): string {
  return value.replaceAll("\\", "\\\\");
}

async function formatStorageOnce(librariesDir: string, files: BrokerFiles): Promise<void> {
  // A caller's log dir may already hold a cluster; formatting it again with a new
  // cluster id fails even with --ignore-formatted.
  if (existsSync(join(files.logDir, "meta.properties"))) return;
  try {
    await runExecutable(
      javaExecutable(),
      [
        ...javaOptions(librariesDir, files),
        "kafka.tools.StorageTool",
        "format",
        `--cluster-id=${randomClusterId()}`,
        "--config",
        files.serverProperties,
      ],
      { timeout: FORMAT_TIMEOUT_MILLISECONDS },
    );
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(
      `formatting Kafka storage in ${files.logDir} failed: ${errorMessage(error)}\n${output.stdout ?? ""}${output.stderr ?? ""}`,
    );
  }
}

// Kafka's cluster ids are 16 random bytes in unpadded base64url (22 characters).
// Like Kafka's own Uuid.randomUuid, refuse a leading "-", which its command-line
// parser would read as an option.
function randomClusterId(): string {
  for (;;) {
    const clusterId = randomBytes(16).toString("base64url");
    if (!clusterId.startsWith("-")) return clusterId;
  }
}

function javaExecutable(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java";
}

function javaOptions(librariesDir: string, files: BrokerFiles): string[] {
  return [
    "-Xmx512m",
    `-Dlog4j.configuration=file:${files.log4jProperties}`,
    "-cp",
    join(librariesDir, "*"),
  ];
}

async function spawnBroker(librariesDir: string, files: BrokerFiles): Promise<RunningBroker> {
  // The JVM writes to a file rather than a pipe so a chatty or dying broker can
  // never block on a full pipe, and a crash message outlives this process.
  const consoleLog = await open(files.consoleLogFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(
      javaExecutable(),
      [...javaOptions(librariesDir, files), "kafka.Kafka", files.serverProperties],
      { stdio: ["ignore", consoleLog.fd, consoleLog.fd] },
    );
  } finally {
    await consoleLog.close();
  }
  const killOnExit = () => child.kill("SIGKILL");
  // If the test process dies without stopping the broker, take the JVM with it
  // rather than leave an orphan holding the ports.
  process.once("exit", killOnExit);
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      resolve({ code, signal });
    });
    child.once("error", (spawnError) => {
      process.removeListener("exit", killOnExit);
      resolve({ code: null, signal: null, spawnError });
    });
  });
  return { process: child, exited };
}

async function waitUntilAcceptingClients(
  brokers: string,
  exited: Promise<ProcessExit>,
  timeoutMilliseconds: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMilliseconds;
  let exit: ProcessExit | undefined;
  exited.then((processExit) => {
    exit = processExit;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exit) throw new Error(describeEarlyExit(exit));
    try {
      await probeBroker(brokers, deadline - Date.now());
      return;
    } catch (error) {
      lastError = error;
    }
    await sleep(READINESS_PROBE_INTERVAL_MILLISECONDS);
  }
  throw new Error(
    `no answer to a metadata request within ${timeoutMilliseconds} ms (last error: ${errorMessage(lastError)})`,
  );
}

function describeEarlyExit(exit: ProcessExit): string {
  if (exit.spawnError) return `could not run ${javaExecutable()}: ${exit.spawnError.message}`;
  return `the JVM exited during startup (code ${exit.code}, signal ${exit.signal})`;
}

// An open port is not enough: the broker must have registered with its controller
// and answer metadata requests before a client can use it.
async function probeBroker(brokers: string, remainingMilliseconds: number): Promise<void> {
  const admin = new Kafka({
    clientId: "switchboard-test-broker-probe",
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  }).admin();
  try {
    const listed = await withTimeout(
      admin.connect().then(() => admin.listTopics()),
      Math.max(remainingMilliseconds, 0),
    );
    if (listed === undefined) throw new Error("probe timed out");
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function findFreePorts(count: number): Promise<number[]> {
  // All listeners stay open until every port is known, so the ports differ.
  const servers = await Promise.all(Array.from({ length: count }, listenOnAnyPort));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === "string") {
      throw new Error("expected a TCP address");
    }
    return address.port;
  });
  await Promise.all(servers.map(closeServer));
  return ports;
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
  });
}

async function readTail(path: string): Promise<string> {
  try {
    const text = await readFile(path, "utf8");
    return text.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Resolves to the promise's value, or to undefined if it takes longer than the bound. */
async function withTimeout<T>(promise: Promise<T>, milliseconds: number): Promise<T | undefined> {
  // A promise that loses the race may still reject later; that must not surface
  // as an unhandled rejection.
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), milliseconds);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
