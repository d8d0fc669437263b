// The `focus` export: FinOps FOCUS 1.2 cost rows, one per completed request
// and charge class (test/reference/focus-spec/focus-1.2-columns.derived.csv
// has the spec's columns).
//
// - Charge classes (focus-prices.ts): input (not read from or written to a
//   cache), cached input read, cache write, output, reasoning (only where the
//   card prices it apart from output; otherwise it is output), and the
//   per-request fee (only where the card has one). Each row has its
//   quantity (PricingQuantity = ConsumedQuantity, in Tokens or Requests),
//   its unit prices per token or request, and ListCost = ListUnitPrice ×
//   PricingQuantity, ContractedCost = ContractedUnitPrice × PricingQuantity,
//   exactly (Decimal(38, 18) throughout). A class with no quantity has no
//   row; a request that used nothing has one input row of 0.
// - Unit prices are the price card's and contract's (focus-prices.ts), used
//   for a request only when its rows add up exactly to the costs the ledger
//   recorded for it, list and contracted. A request whose prices the
//   analytics config lacks, or whose recorded costs they do not give (a card
//   edited under the same version, a discount that rounded), is one row with its recorded costs and no quantity or
//   unit price: x_UsageClass 'unsplit'. A request with no known price has
//   its rows by class at cost 0, no unit price, and x_PriceKnown false.
// - ListCost is at the price card's list prices (list_cost_usd in the
//   ledger); ContractedCost at the contracted prices (cost_usd: the list
//   cost when no contract applies). With no commitments or prepayments to
//   amortize (commitments are not modelled yet) and the vendor invoicing
//   each request at its contracted price, EffectiveCost = BilledCost =
//   ContractedCost, as in the spec's simple SaaS examples.
// - SKUs: SkuId is the model's class (alpha/m1/input), SkuPriceId that at a
//   card version and, beyond standard, service tier
//   (alpha/m1/input@2026-11-01, alpha/m1/input@2026-11-01:batch), SkuMeter
//   the class in words. SkuPriceDetails names the model, the token
//   direction, the cache action and the service tier under x_ keys: FOCUS
//   1.2 defines no AI properties.
// - Tags (FOCUS key-value format): the key's user-defined tags, valueless, so
//   each is `"tag": true`, unprefixed (Switchboard has one user-defined tag
//   scheme); and Switchboard's own dimensions under the provider prefix
//   `switchboard/`: task, route, team and key id (team and key only when the
//   request had them). A user tag that starts with `switchboard/` is left out,
//   so no key is ever given twice.
// - Provider, publisher, invoice issuer and billing account are the vendor
//   as configured (its id stands for the operator's account with it); the
//   sub account is the tenant. No region: the ledger records none.
// - The charge period is the hour the request ran in; the billing period its
//   calendar month, UTC. FOCUS's date/times are whole seconds
//   (`YYYY-MM-DDTHH:mm:ssZ`), so they are DateTime64(0): text formats write
//   no fraction, Arrow and Parquet carry UTC timestamps. x_OccurredAt and
//   x_IngestedAt keep their milliseconds.
// - Prices are quoted and billed in USD, so the pricing currency is the
//   billing currency and its PricingCurrency* figures are the billing ones.
// - The x_ columns carry the request's ids and its tokens by kind, the same
//   on each of its rows.
import { CHARGE_CLASSES } from "./focus-prices.ts";

const MONEY = "Decimal(38, 18)";
/** One charge: class, quantity, list and contracted unit price, list and contracted cost. */
const CHARGE = `Tuple(String, Nullable(UInt64), Nullable(${MONEY}), Nullable(${MONEY}), ${MONEY}, ${MONEY})`;
const CLASSES = `[${CHARGE_CLASSES.map((name) => `'${name}'`).join(", ")}]`;

/**
 * The prices (the `focus_prices` parameter, focus-prices.ts) are constants
 * of the query, with no lambda so ClickHouse folds them once: a request's
 * key is looked up in `transform`'s hash table and its prices read by that
 * index. Not a join: with the prices joined, an export of 200,000 requests
 * took about four times as long per request (measured once, on a loaded
 * machine), as if the pages were no longer read by the ingested_at index.
 */
const PRICE_KEYS = `JSONExtract({focus_prices:String}, 'keys', 'Array(String)')`;
const PRICE_INDEX = `transform(
  concat(vendor, '\\0', model, '\\0', price_card_version, '\\0', ifNull(contract_id, ''), '\\0', service_tier),
  ${PRICE_KEYS}, arrayEnumerate(${PRICE_KEYS}), 0)`;
/** A request's unit prices by class, list and contracted; [] when none is known. */
const pricesAt = (side: "list" | "contracted") =>
  `arrayElement(JSONExtract({focus_prices:String}, '${side}', 'Array(Array(${MONEY}))'), ${PRICE_INDEX})`;
const LIST_PRICES = pricesAt("list");
const CONTRACTED_PRICES = pricesAt("contracted");

/** Reasoning has a row of its own only when the card or contract prices it apart from output. */
const REASONING_APART = `(length(${LIST_PRICES}) = 6
  AND (${LIST_PRICES}[5] != ${LIST_PRICES}[4] OR ${CONTRACTED_PRICES}[5] != ${CONTRACTED_PRICES}[4]))`;

/** Quantities by class, in CHARGE_CLASSES order (gateway/pricing.ts scaledCost's split). */
const QUANTITIES = `[
  toUInt64(greatest(toInt64(input_tokens) - toInt64(cached_input_tokens) - toInt64(cache_write_input_tokens), 0)),
  toUInt64(cached_input_tokens),
  toUInt64(cache_write_input_tokens),
  if(${REASONING_APART}, toUInt64(greatest(toInt64(output_tokens) - toInt64(reasoning_tokens), 0)), toUInt64(output_tokens)),
  if(${REASONING_APART}, toUInt64(reasoning_tokens), toUInt64(0)),
  toUInt64(input_tokens > 0 OR output_tokens > 0)]`;

const costs = (prices: string) =>
  `arrayMap((quantity, price) -> toDecimal128(quantity, 0) * price, ${QUANTITIES}, ${prices})`;

/** The card's prices give back exactly what the ledger recorded. */
const SPLITS = `(price_known AND length(${LIST_PRICES}) = 6
  AND arraySum(${costs(LIST_PRICES)}) = list_cost_usd
  AND arraySum(${costs(CONTRACTED_PRICES)}) = cost_usd)`;

const SPLIT_CHARGES = `arrayFilter(charge -> charge.2 > 0 AND (charge.1 != 'request' OR charge.3 > 0 OR charge.4 > 0),
  arrayMap((name, quantity, list, contracted) ->
      CAST((name, quantity, list, contracted, toDecimal128(quantity, 0) * list, toDecimal128(quantity, 0) * contracted) AS ${CHARGE}),
    ${CLASSES}, ${QUANTITIES}, ${LIST_PRICES}, ${CONTRACTED_PRICES}))`;

const UNPRICED_CHARGES = `arrayFilter(charge -> charge.2 > 0 AND charge.1 != 'request',
  arrayMap((name, quantity) -> CAST((name, quantity, NULL, NULL, 0, 0) AS ${CHARGE}), ${CLASSES}, ${QUANTITIES}))`;

const NOTHING_USED = `[CAST(('input', 0, if(${SPLITS}, ${LIST_PRICES}[1], NULL), if(${SPLITS}, ${CONTRACTED_PRICES}[1], NULL), 0, 0) AS ${CHARGE})]`;

/** A request's charges: by class when its prices split it, else one unsplit row. */
const CHARGES = `if(NOT price_known OR ${SPLITS},
  if(empty(if(price_known, ${SPLIT_CHARGES}, ${UNPRICED_CHARGES})), ${NOTHING_USED},
     if(price_known, ${SPLIT_CHARGES}, ${UNPRICED_CHARGES})),
  [CAST(('unsplit', NULL, NULL, NULL, list_cost_usd, cost_usd) AS ${CHARGE})])`;

/**
 * The FROM of a page of FOCUS rows: each request, one row per charge. Page
 * planning counts the table's requests, not these rows.
 */
export const FOCUS_FROM = `switchboard.request_completed ARRAY JOIN ${CHARGES} AS charge`;

const SKU_METER = `multiIf(charge.1 = 'input', 'Input Tokens', charge.1 = 'cached_input', 'Cached Input Tokens',
  charge.1 = 'cache_write', 'Cache Write Tokens', charge.1 = 'output', 'Output Tokens',
  charge.1 = 'reasoning', 'Reasoning Tokens', charge.1 = 'request', 'Requests', NULL)`;
const UNIT = `if(charge.2 IS NULL, NULL, if(charge.1 = 'request', 'Requests', 'Tokens'))`;

export const FOCUS_SELECT = `
  charge.6 AS BilledCost,
  vendor AS BillingAccountId,
  vendor AS BillingAccountName,
  'Vendor account' AS BillingAccountType,
  'USD' AS BillingCurrency,
  toDateTime64(toStartOfMonth(occurred_at), 0, 'UTC') AS BillingPeriodStart,
  toDateTime64(toStartOfMonth(occurred_at) + INTERVAL 1 MONTH, 0, 'UTC') AS BillingPeriodEnd,
  'Usage' AS ChargeCategory,
  CAST(NULL AS Nullable(String)) AS ChargeClass,
  concat('LLM request for route ', request_model, ' served by ', vendor, '/', model,
         ' at price card ', price_card_version,
         if(contract_id IS NULL, ' list prices', concat(' under contract ', assumeNotNull(contract_id))),
         if(charge.1 = 'unsplit', '', concat(': ', lower(${SKU_METER}))))
    AS ChargeDescription,
  'Usage-Based' AS ChargeFrequency,
  toDateTime64(toStartOfHour(occurred_at), 0, 'UTC') AS ChargePeriodStart,
  toDateTime64(toStartOfHour(occurred_at) + INTERVAL 1 HOUR, 0, 'UTC') AS ChargePeriodEnd,
  toDecimal128(charge.2, 0) AS ConsumedQuantity,
  ${UNIT} AS ConsumedUnit,
  charge.6 AS ContractedCost,
  charge.4 AS ContractedUnitPrice,
  charge.6 AS EffectiveCost,
  vendor AS InvoiceIssuerName,
  charge.5 AS ListCost,
  charge.3 AS ListUnitPrice,
  'Standard' AS PricingCategory,
  'USD' AS PricingCurrency,
  charge.4 AS PricingCurrencyContractedUnitPrice,
  charge.6 AS PricingCurrencyEffectiveCost,
  charge.3 AS PricingCurrencyListUnitPrice,
  toDecimal128(charge.2, 0) AS PricingQuantity,
  ${UNIT} AS PricingUnit,
  vendor AS ProviderName,
  vendor AS PublisherName,
  concat(vendor, '/', model) AS ResourceId,
  model AS ResourceName,
  'Model' AS ResourceType,
  'AI and Machine Learning' AS ServiceCategory,
  concat(vendor, ' model inference') AS ServiceName,
  'Generative AI' AS ServiceSubcategory,
  if(charge.1 = 'unsplit', concat(vendor, '/', model), concat(vendor, '/', model, '/', charge.1)) AS SkuId,
  ${SKU_METER} AS SkuMeter,
  if(charge.3 IS NULL, NULL, concat(vendor, '/', model, '/', charge.1, '@', price_card_version,
     if(service_tier = 'standard', '', concat(':', service_tier)))) AS SkuPriceId,
  if(charge.3 IS NULL, NULL, toJSONString(CAST(
      mapFilter((key, value) -> value != '', map(
        'x_Model', model,
        'x_TokenDirection', multiIf(charge.1 IN ('output', 'reasoning'), 'Output', charge.1 = 'request', '', 'Input'),
        'x_CacheAction', multiIf(charge.1 = 'cached_input', 'Read', charge.1 = 'cache_write', 'Write', ''),
        'x_TokenType', if(charge.1 = 'reasoning', 'Reasoning', ''),
        'x_ServiceTier', service_tier)),
      'Map(String, String)'))) AS SkuPriceDetails,
  tenant_id AS SubAccountId,
  tenant_id AS SubAccountName,
  'Tenant' AS SubAccountType,
  concat('{', arrayStringConcat(arrayConcat(
      [concat('"switchboard/task":', toJSONString(task)),
       concat('"switchboard/route":', toJSONString(request_model))],
      if(team = '', [], [concat('"switchboard/team":', toJSONString(team))]),
      if(key_id = '', [], [concat('"switchboard/key":', toJSONString(key_id))]),
      arrayMap(tag -> concat(toJSONString(tag), ':true'),
               arrayFilter(tag -> NOT startsWith(tag, 'switchboard/'), arrayDistinct(tags)))
    ), ','), '}') AS Tags,
  charge.1 AS x_UsageClass,
  input_tokens AS x_InputTokens,
  cached_input_tokens AS x_CachedInputTokens,
  output_tokens AS x_OutputTokens,
  cache_write_input_tokens AS x_CacheWriteInputTokens,
  reasoning_tokens AS x_ReasoningTokens,
  price_known AS x_PriceKnown,
  contract_id AS x_ContractId,
  request_id AS x_RequestId,
  toString(event_id) AS x_EventId,
  task AS x_Task,
  status AS x_Status,
  price_card_version AS x_PriceCardVersion,
  occurred_at AS x_OccurredAt,
  ingested_at AS x_IngestedAt`;
