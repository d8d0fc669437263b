// The `focus` export: one FinOps FOCUS 1.2 cost row per completed request
// (test/reference/focus-spec/focus-1.2-columns.derived.csv has the spec's columns).
//
// - ListCost is the request's cost at the price card's list prices
//   (list_cost_usd); ContractedCost is its cost at the contracted prices
//   (cost_usd: equal to the list cost when no contract applies). With no
//   commitments or prepayments to amortize and the vendor invoicing each
//   request at its contracted price, EffectiveCost = BilledCost =
//   ContractedCost, as in the spec's simple SaaS examples. A request with no
//   known price has both costs 0, and x_PriceKnown false.
// - Tags (FOCUS key-value format): the key's user-defined tags, valueless, so
//   each is `"tag": true`, unprefixed (Switchboard has one user-defined tag
//   scheme); and Switchboard's own dimensions under the provider prefix
//   `switchboard/`: task, route, team and key id (team and key only when the
//   request had them). A user tag that starts with `switchboard/` is left out,
//   so no key is ever given twice.
// - Provider, publisher, invoice issuer and billing account are the vendor
//   as configured (its id stands for the operator's account with it); the
//   sub account is the tenant.
// - The charge period is the hour the request ran in; the billing period its
//   calendar month, UTC. FOCUS's date/times are whole seconds
//   (`YYYY-MM-DDTHH:mm:ssZ`), so they are DateTime64(0): text formats write
//   no fraction, Arrow and Parquet carry UTC timestamps. x_OccurredAt and
//   x_IngestedAt keep their milliseconds.
// - Prices are quoted and billed in USD, so the pricing currency is the
//   billing currency and PricingCurrencyEffectiveCost is EffectiveCost.
// - Quantities are tokens (input, which includes cached, plus output); the
//   split by kind is in the x_ columns, with the request's ids.
export const FOCUS_SELECT = `
  cost_usd AS BilledCost,
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
         if(contract_id IS NULL, ' list prices', concat(' under contract ', assumeNotNull(contract_id))))
    AS ChargeDescription,
  'Usage-Based' AS ChargeFrequency,
  toDateTime64(toStartOfHour(occurred_at), 0, 'UTC') AS ChargePeriodStart,
  toDateTime64(toStartOfHour(occurred_at) + INTERVAL 1 HOUR, 0, 'UTC') AS ChargePeriodEnd,
  toDecimal128(input_tokens + output_tokens, 0) AS ConsumedQuantity,
  'Tokens' AS ConsumedUnit,
  cost_usd AS ContractedCost,
  cost_usd AS EffectiveCost,
  vendor AS InvoiceIssuerName,
  list_cost_usd AS ListCost,
  'Standard' AS PricingCategory,
  'USD' AS PricingCurrency,
  cost_usd AS PricingCurrencyEffectiveCost,
  toDecimal128(input_tokens + output_tokens, 0) AS PricingQuantity,
  'Tokens' AS PricingUnit,
  vendor AS ProviderName,
  vendor AS PublisherName,
  concat(vendor, '/', model) AS ResourceId,
  model AS ResourceName,
  'Model' AS ResourceType,
  'AI and Machine Learning' AS ServiceCategory,
  concat(vendor, ' model inference') AS ServiceName,
  'Generative AI' AS ServiceSubcategory,
  concat(vendor, '/', model) AS SkuId,
  concat(vendor, '/', model, '@', price_card_version) AS SkuPriceId,
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
