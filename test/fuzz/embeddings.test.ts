import { embeddingsTarget } from "./embeddings.fuzz.ts";
import { fuzzTest } from "./fuzz-test.ts";

fuzzTest(embeddingsTarget);
