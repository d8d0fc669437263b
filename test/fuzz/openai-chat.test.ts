import { fuzzTest } from "./fuzz-test.ts";
import { openAIChatTarget } from "./openai-chat.fuzz.ts";

fuzzTest(openAIChatTarget);
