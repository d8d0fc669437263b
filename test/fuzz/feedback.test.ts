import { feedbackTarget } from "./feedback.fuzz.ts";
import { fuzzTest } from "./fuzz-test.ts";

fuzzTest(feedbackTarget);
