// The `focus` export: one FinOps FOCUS 1.2 cost row per completed request
// (../shared/data/focus/focus-1.2-columns.derived.csv has the columns).
//
// - ListCost = ContractedCost = EffectiveCost = BilledCost = the request's
//   cost at the price catalog's list prices, until contracts (negotiated
//   prices, commitments) exist in Switchboard; then they will differ.
// - Provider, publisher, invoice issuer and billing account are the vendor
//   as configured (its id stands for the operator's account with it); the
//   sub account is the tenant.
// - The charge period is the hour the request ran in; the billing period its
//   calendar month, UTC.
// - Quantities are tokens (input, which includes cached, plus output); the
//   split by kind is in the x_ columns, with the request's ids.
export const FOCUS_SELECT = `
  cost_usd AS BilledCost,
  vendor AS BillingAccountId,
  vendor AS BillingAccountName,
  'Vendor account' AS BillingAccountType,
  'USD' AS BillingCurrency,
  toDateTime64(toStartOfMonth(occurred_at), 3, 'UTC') AS BillingPeriodStart,
  toDateTime64(toStartOfMonth(occurred_at) + INTERVAL 1 MONTH, 3, 'UTC') AS BillingPeriodEnd,
  'Usage' AS ChargeCategory,
  CAST(NULL AS Nullable(String)) AS ChargeClass,
  concat('LLM request for route ', request_model, ' served by ', vendor, '/', model,
         ' at catalog ', price_card_version, ' list prices') AS ChargeDescription,
  'Usage-Based' AS ChargeFrequency,
  toDateTime64(toStartOfHour(occurred_at), 3, 'UTC') AS ChargePeriodStart,
  toDateTime64(toStartOfHour(occurred_at) + INTERVAL 1 HOUR, 3, 'UTC') AS ChargePeriodEnd,
  toDecimal128(input_tokens + output_tokens, 0) AS ConsumedQuantity,
  'Tokens' AS ConsumedUnit,
  cost_usd AS ContractedCost,
  cost_usd AS EffectiveCost,
  vendor AS InvoiceIssuerName,
  cost_usd AS ListCost,
  'Standard' AS PricingCategory,
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
  toJSONString(map('task', task, 'route', request_model)) AS Tags,
  input_tokens AS x_InputTokens,
  cached_input_tokens AS x_CachedInputTokens,
  output_tokens AS x_OutputTokens,
  request_id AS x_RequestId,
  toString(event_id) AS x_EventId,
  task AS x_Task,
  status AS x_Status,
  price_card_version AS x_PriceCardVersion,
  occurred_at AS x_OccurredAt,
  ingested_at AS x_IngestedAt`;
