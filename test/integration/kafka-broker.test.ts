// Checks that the test harness gives a real, usable Kafka broker: the shared one
// from the global setup, and a private one that survives being stopped and killed
// (the fault tests of the event sink depend on both).
import { randomUUID } from "node:crypto";
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { type KafkaBroker, startKafkaBroker } from "../kafka/broker.ts";

const CONSUME_TIMEOUT_MILLISECONDS = 20_000;

function kafkaClient(brokers: string): Kafka {
  return new Kafka({
    clientId: "switchboard-kafka-broker-test",
    brokers: [brokers],
    // Errors while the private broker is down are expected; assertions say what failed.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    // Enough to ride out a broker restart (a few seconds), bounded so a test ends.
    retry: { initialRetryTime: 200, maxRetryTime: 2_000, retries: 15 },
  });
}

function uniqueTopicName(purpose: string): string {
  return `test.kafka-broker.${purpose}.${randomUUID()}`;
}

async function createTopic(admin: Admin, topic: string): Promise<void> {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  expect(created).toBe(true);
}

function idempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

async function produceValues(producer: Producer, topic: string, values: string[]): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: values.map((value) => ({ key: "same-key", value })),
  });
}

/** Reads the topic from the beginning with a fresh consumer group until `count` values arrive. */
async function consumeValues(kafka: Kafka, topic: string, count: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `test.kafka-broker.${randomUUID()}` });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `read ${values.length} of ${count} messages from ${topic} in ${CONSUME_TIMEOUT_MILLISECONDS} ms: ${JSON.stringify(values)}`,
            ),
          ),
        CONSUME_TIMEOUT_MILLISECONDS,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString("utf8") ?? "<null>");
            if (values.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

describe("the shared Kafka broker of the test run", () => {
  const kafka = kafkaClient(inject("kafkaBrokers"));
  const admin = kafka.admin();
  const producer = idempotentProducer(kafka);

  beforeAll(async () => {
    await admin.connect();
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });

  test("delivers what an idempotent producer sent to a consumer group, in order", async () => {
    const topic = uniqueTopicName("round-trip");
    await createTopic(admin, topic);
    const sent = ["first", "second", "third", "fourth", "fifth"];

    await produceValues(producer, topic, sent.slice(0, 2));
    await produceValues(producer, topic, sent.slice(2));

    expect(await consumeValues(kafka, topic, sent.length)).toEqual(sent);
  });
});

describe("a private Kafka broker that is stopped and restarted", () => {
  let broker: KafkaBroker;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    broker = await startKafkaBroker();
    kafka = kafkaClient(broker.brokers);
    admin = kafka.admin();
    producer = idempotentProducer(kafka);
    await admin.connect();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await broker?.destroy();
  });

  test("keeps records across a clean stop and a start on the same port", async () => {
    const topic = uniqueTopicName("stop-start");
    await createTopic(admin, topic);
    const brokersBeforeStop = broker.brokers;
    await produceValues(producer, topic, ["before-stop-1", "before-stop-2"]);

    await broker.stop();
    await broker.start();
    // The same producer reconnects by itself, as the gateway's would.
    await produceValues(producer, topic, ["after-start-1"]);

    expect(broker.brokers).toBe(brokersBeforeStop);
    expect(await consumeValues(kafka, topic, 3)).toEqual([
      "before-stop-1",
      "before-stop-2",
      "after-start-1",
    ]);
  }, 90_000);

  test("keeps acknowledged records when the broker is killed", async () => {
    const topic = uniqueTopicName("kill-start");
    await createTopic(admin, topic);
    await produceValues(producer, topic, ["before-kill-1", "before-kill-2"]);

    await broker.kill();
    await broker.start();
    await produceValues(producer, topic, ["after-kill-1"]);

    expect(await consumeValues(kafka, topic, 3)).toEqual([
      "before-kill-1",
      "before-kill-2",
      "after-kill-1",
    ]);
  }, 90_000);
});
