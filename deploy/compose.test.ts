import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parseDocument, parse as parseYaml } from "yaml";
import { loadConfig } from "../cli/config.ts";
import { createClickHouse } from "../clickhouse/client.ts";

// docker-compose.yml cannot be brought up here (no Docker engine), so it is
// checked statically: against the Compose Specification's schema
// (deploy/compose-spec/, Apache-2.0) and against the rules it keeps, for each
// profile as `docker compose` would enable it.

type Dependency = { condition?: string; required?: boolean };
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  profiles?: string[];
  hostname?: string;
  restart?: string;
  environment?: Record<string, string | number>;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, Dependency> | string[];
  ports?: (string | { host_ip?: string; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  networks?: Record<string, { aliases?: string[] } | null> | string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const PROFILES = ["single", "cluster"] as const;
type Profile = (typeof PROFILES)[number];
const CLUSTER = "switchboard";

const text = readFileSync("docker-compose.yml", "utf8");
const compose = parseYaml(text, { merge: true }) as ComposeFile;

/** The services `docker compose --profile <profile> up` starts. */
function servicesOf(profile: Profile): Record<string, Service> {
  return Object.fromEntries(
    Object.entries(compose.services).filter(
      ([, service]) => !service.profiles || service.profiles.includes(profile),
    ),
  );
}

function dependenciesOf(service: Service): [string, Dependency][] {
  const dependsOn = service.depends_on ?? {};
  return Array.isArray(dependsOn) ? dependsOn.map((name) => [name, {}]) : Object.entries(dependsOn);
}

function aliasesOf(service: Service): string[] {
  if (!service.networks || Array.isArray(service.networks)) return [];
  return Object.values(service.networks).flatMap((network) => network?.aliases ?? []);
}

/** Names that resolve on the compose network: service names and network aliases. */
function hostNamesOf(services: Record<string, Service>): Set<string> {
  return new Set(
    Object.entries(services).flatMap(([name, service]) => [
      name,
      ...aliasesOf(service),
      ...(service.hostname ? [service.hostname] : []),
    ]),
  );
}

function bindMounts(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).flatMap((volume) => {
    if (typeof volume !== "string") {
      return volume.type === "bind" && volume.source && volume.target
        ? [{ source: volume.source, target: volume.target }]
        : [];
    }
    const [source, target] = volume.split(":");
    return source?.startsWith(".") && target ? [{ source, target }] : [];
  });
}

function roleOf(service: Service): string | undefined {
  return service.build !== undefined ? service.command?.[0] : undefined;
}

describe("docker-compose.yml", () => {
  it("is YAML without errors, and .env makes the single profile the default", () => {
    const document = parseDocument(text, { merge: true });
    expect(document.errors).toEqual([]);
    expect(document.warnings).toEqual([]);
    expect(readFileSync(".env", "utf8")).toMatch(/^COMPOSE_PROFILES=single$/m);
    // Every service is shared or belongs to exactly one profile.
    for (const [name, service] of Object.entries(compose.services)) {
      expect([name, service.profiles?.length ?? 0]).not.toEqual([name, 2]);
      for (const profile of service.profiles ?? []) expect(PROFILES).toContain(profile);
    }
  });

  const schema = JSON.parse(readFileSync("deploy/compose-spec/compose-spec.json", "utf8"));
  const validate = new Ajv({ strict: false, allErrors: true, validateSchema: false }).compile(
    schema,
  );

  it("the schema refuses what is not Compose (so passing it means something)", () => {
    expect(validate({ services: { a: { image: "x:1", helthcheck: {} } } })).toBe(false);
    expect(validate({ services: { a: { image: "x:1", depends_on: { b: {} } } } })).toBe(false);
  });

  it.each(PROFILES)("%s: validates against the Compose Specification schema", (profile) => {
    const file = { ...compose, services: servicesOf(profile) };
    const valid = validate(file);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it.each(PROFILES)(
    "%s: every service has a healthcheck, or is a job others wait to finish",
    (profile) => {
      const services = servicesOf(profile);
      for (const [name, service] of Object.entries(services)) {
        expect(service.healthcheck, `${name} has no healthcheck`).toBeDefined();
        if (service.healthcheck?.disable) {
          // A one-shot job: its health is having finished.
          expect([name, service.restart]).toEqual([name, "no"]);
          const waiters = Object.values(services).flatMap((other) =>
            dependenciesOf(other).filter(([target]) => target === name),
          );
          expect(waiters.length, `nothing waits for ${name}`).toBeGreaterThan(0);
          for (const [, dependency] of waiters) {
            expect(dependency.condition).toBe("service_completed_successfully");
          }
        } else {
          expect(
            service.healthcheck?.test?.length,
            `${name}'s healthcheck has no test`,
          ).toBeGreaterThan(1);
        }
      }
    },
  );

  it.each(PROFILES)("%s: every dependency has a condition its target can meet", (profile) => {
    const services = servicesOf(profile);
    for (const [name, service] of Object.entries(services)) {
      for (const [target, dependency] of dependenciesOf(service)) {
        expect(services[target], `${name} depends on ${target}, not in ${profile}`).toBeDefined();
        expect(
          ["service_healthy", "service_completed_successfully"],
          `${name} → ${target}`,
        ).toContain(dependency.condition);
        const targetService = services[target] as Service;
        if (dependency.condition === "service_healthy") {
          expect(
            targetService.healthcheck?.disable,
            `${target} has no health to wait for`,
          ).not.toBe(true);
        } else {
          expect(targetService.restart, `${target} restarts, so it never completes`).toBe("no");
        }
      }
    }
  });

  it.each(PROFILES)("%s: every published port is on loopback, each host port once", (profile) => {
    const published: string[] = [];
    for (const [name, service] of Object.entries(servicesOf(profile))) {
      for (const port of service.ports ?? []) {
        if (typeof port === "string") {
          expect(port, `${name} publishes ${port} on every interface`).toMatch(
            /^127\.0\.0\.1:\d+:\d+$/,
          );
          published.push(port.split(":")[1] as string);
        } else {
          expect(port.host_ip, `${name} publishes a port on every interface`).toBe("127.0.0.1");
          published.push(String(port.published));
        }
      }
    }
    expect(published.length).toBeGreaterThan(0);
    expect(new Set(published).size).toBe(published.length);
  });

  it("every image is pinned to a version; the one built here is on a pinned base", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build !== undefined) {
        expect(service.image).toBe("switchboard:local");
        continue;
      }
      expect(service.image, `${name}'s image`).toMatch(/^[\w./-]+:v?\d+\.\d+(\.\d+)*(-[\w.]+)?$/);
    }
    const bases = [...readFileSync("Dockerfile", "utf8").matchAll(/^FROM\s+(\S+)/gm)].map(
      (match) => match[1],
    );
    expect(bases.length).toBeGreaterThan(1);
    for (const base of bases) expect(base).toMatch(/^node:\d+\.\d+\.\d+-[\w-]+$/);
  });

  it.each(PROFILES)("%s: every file a service mounts exists in the repository", (profile) => {
    for (const service of Object.values(servicesOf(profile))) {
      for (const mount of bindMounts(service))
        expect(existsSync(mount.source), mount.source).toBe(true);
    }
  });

  it.each(PROFILES)(
    "%s: every role loads its config with the environment it is given",
    (profile) => {
      for (const [name, service] of Object.entries(servicesOf(profile))) {
        if (roleOf(service) === undefined) continue;
        const environment = Object.fromEntries(
          Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value)]),
        );
        const path = environment.SWITCHBOARD_CONFIG;
        expect(path, `${name} names no config`).toBeDefined();
        const config = loadConfig(path, environment);
        if (roleOf(service) === "simulator") continue;
        expect(config.clickhouse_url, name).toMatch(/^http:\/\//);
        expect(config.kafka_brokers, name).toBe("kafka:9092");
        expect(config.clickhouse_cluster, name).toBe(profile === "cluster" ? CLUSTER : undefined);
      }
    },
  );

  it("Kafka keeps its log on its volume", () => {
    const brokers = Object.entries(compose.services).filter(([, service]) =>
      service.image?.startsWith("apache/kafka:"),
    );
    expect(brokers.map(([name]) => name).sort()).toEqual([
      "kafka",
      "kafka-1",
      "kafka-2",
      "kafka-3",
    ]);
    for (const [name, service] of brokers) {
      const logDirectory = service.environment?.KAFKA_LOG_DIRS;
      const volumeTargets = (service.volumes ?? []).map((volume) =>
        typeof volume === "string" ? volume.split(":")[1] : volume.target,
      );
      expect(volumeTargets, `${name}'s log is not on a volume`).toContain(logDirectory);
    }
  });

  it("Grafana's ClickHouse plugin is pinned and installed before provisioning", () => {
    const environment = compose.services.grafana?.environment ?? {};
    expect(environment.GF_PLUGINS_PREINSTALL_SYNC).toMatch(
      /^grafana-clickhouse-datasource@\d+\.\d+\.\d+$/,
    );
    expect(environment.GF_INSTALL_PLUGINS).toBeUndefined();
  });

  it("the ClickHouse server has every setting the code sends: it is no older than chDB's engine", async () => {
    const servers = Object.values(compose.services)
      .map((service) => service.image ?? "")
      .filter((image) => /^clickhouse\/clickhouse-(server|keeper):/.test(image));
    expect(servers.length).toBe(4);
    const directory = mkdtempSync(join(tmpdir(), "switchboard-compose-chdb-"));
    const chdb = createClickHouse(`chdb:${directory}`);
    try {
      const result = await chdb.query({
        query: "SELECT version() AS version",
        format: "JSONEachRow",
      });
      const [{ version }] = (await result.json()) as [{ version: string }];
      const [engineMajor, engineMinor] = version.split(".").map(Number) as [number, number];
      for (const image of servers) {
        const [major, minor] = (image.split(":")[1] as string).split(".").map(Number) as [
          number,
          number,
        ];
        expect(
          major * 100 + minor,
          `${image} is older than chDB ${version}`,
        ).toBeGreaterThanOrEqual(engineMajor * 100 + engineMinor);
      }
    } finally {
      await chdb.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe("the cluster profile", () => {
  const services = servicesOf("cluster");
  const byImage = (prefix: string) =>
    Object.entries(services).filter(([, service]) => service.image?.startsWith(prefix));
  const byRole = (role: string) =>
    Object.entries(services).filter(([, service]) => roleOf(service) === role);

  it("runs three Kafka brokers, a quorum of them, RF 3 and min.insync.replicas 2", () => {
    const brokers = byImage("apache/kafka:");
    expect(brokers).toHaveLength(3);
    const voters = new Set(
      brokers.map(([, broker]) => broker.environment?.KAFKA_CONTROLLER_QUORUM_VOTERS),
    );
    expect(voters.size).toBe(1);
    expect([...voters][0]).toBe("1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093");
    expect(new Set(brokers.map(([, broker]) => broker.environment?.CLUSTER_ID)).size).toBe(1);
    expect(new Set(brokers.map(([, broker]) => broker.environment?.KAFKA_NODE_ID)).size).toBe(3);
    for (const [name, broker] of brokers) {
      expect(broker.environment?.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${name}:9092`);
      expect(broker.environment).toMatchObject({
        KAFKA_DEFAULT_REPLICATION_FACTOR: 3,
        KAFKA_MIN_INSYNC_REPLICAS: 2,
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 3,
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: 2,
      });
      expect(aliasesOf(broker)).toContain("kafka");
    }
  });

  it("runs Keeper and two replicas of one shard, each with its own macros", () => {
    expect(byImage("clickhouse/clickhouse-keeper:")).toHaveLength(1);
    const replicas = byImage("clickhouse/clickhouse-server:");
    expect(replicas.map(([name]) => name)).toEqual(["clickhouse-01", "clickhouse-02"]);
    const cluster = readFileSync("deploy/clickhouse/cluster.xml", "utf8");
    expect(cluster).toContain(`<${CLUSTER}>`);
    expect(cluster).toContain("<internal_replication>true</internal_replication>");
    for (const [name, replica] of replicas) {
      expect(replica.hostname).toBe(name);
      expect(cluster).toContain(`<host>${name}</host>`);
      const mounts = bindMounts(replica).map((mount) => mount.source);
      expect(mounts).toContain("./deploy/clickhouse/cluster.xml");
      const own = readFileSync(`deploy/clickhouse/${name}.xml`, "utf8");
      expect(mounts).toContain(`./deploy/clickhouse/${name}.xml`);
      expect(own).toContain(`<replica>${name}</replica>`);
      expect(own).toContain(`<interserver_http_host>${name}</interserver_http_host>`);
      expect(aliasesOf(replica)).toContain("clickhouse");
    }
  });

  it("two gateways behind one load balancer port, two ingest consumers of one group", () => {
    const gateways = byRole("gateway");
    expect(gateways).toHaveLength(2);
    const nginx = readFileSync("deploy/nginx/gateway.conf", "utf8");
    for (const [name] of gateways) expect(nginx).toContain(`server ${name}:8080`);
    const balancer = services["gateway-lb"] as Service;
    expect(balancer.ports).toEqual(["127.0.0.1:8080:8080"]);
    expect(
      dependenciesOf(balancer)
        .map(([target]) => target)
        .sort(),
    ).toEqual(gateways.map(([name]) => name).sort());
    // Distinct outboxes: one process owns an outbox folder.
    const outboxes = gateways.map(([, gateway]) => String(gateway.volumes?.[0]).split(":")[0]);
    expect(new Set(outboxes).size).toBe(2);
    // Same config, so the same consumer group (ingest/consumer.ts).
    const ingests = byRole("ingest");
    expect(ingests).toHaveLength(2);
    expect(ingests[0]?.[1].environment).toEqual(ingests[1]?.[1].environment);
  });

  it("every role that opens ClickHouse migrates for the cluster, and topics get three replicas", () => {
    for (const [name, service] of Object.entries(services)) {
      const role = roleOf(service);
      if (role === undefined || role === "simulator") continue;
      expect(service.environment?.CLICKHOUSE_CLUSTER, name).toBe(CLUSTER);
      expect(service.environment?.KAFKA_REPLICATION_FACTOR, name).toBe(3);
    }
    for (const service of Object.values(servicesOf("single"))) {
      expect(service.environment?.CLICKHOUSE_CLUSTER).toBeUndefined();
    }
  });
});

describe("Prometheus", () => {
  const config = parseYaml(readFileSync("deploy/prometheus/prometheus.yml", "utf8")) as {
    scrape_configs: {
      job_name: string;
      dns_sd_configs?: { names: string[]; port: number }[];
    }[];
  };
  const jobs = new Map(config.scrape_configs.map((job) => [job.job_name, job]));
  const ROLE_PORTS = { gateway: 8080, ingest: 9464, analytics: 8081 } as const;

  it.each(PROFILES)(
    "%s: scrapes every role that listens, at names that resolve there",
    (profile) => {
      const services = servicesOf(profile);
      const names = hostNamesOf(services);
      for (const [role, port] of Object.entries(ROLE_PORTS)) {
        const job = jobs.get(role);
        expect(job?.dns_sd_configs?.[0]?.port, role).toBe(port);
        for (const name of job?.dns_sd_configs?.[0]?.names ?? []) expect(names).toContain(name);
        // Every process of the role answers to the job's name.
        const processes = Object.entries(services).filter(
          ([, service]) => roleOf(service) === role,
        );
        expect(processes.length).toBeGreaterThan(0);
        for (const [name, service] of processes) {
          expect([name, ...aliasesOf(service)], `${name} is not scraped`).toContain(role);
        }
      }
      expect(names).toContain(jobs.get("clickhouse")?.dns_sd_configs?.[0]?.names[0]);
    },
  );
});
