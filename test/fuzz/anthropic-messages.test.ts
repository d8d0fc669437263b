import { anthropicMessagesTarget } from "./anthropic-messages.fuzz.ts";
import { fuzzTest } from "./fuzz-test.ts";

fuzzTest(anthropicMessagesTarget);
