/** A database name goes into SQL text (it cannot be a parameter), so only a plain identifier is accepted. */
export const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function assertDatabaseName(name: string): string {
  if (!DATABASE_NAME.test(name))
    throw new Error(`CLICKHOUSE_DB must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*), got ${JSON.stringify(name)}`);
  return name;
}

/**
 * The logs table. ReplacingMergeTree on the sorting key, with the commit position as version: an
 * event written twice (a sink that crashed before saving its checkpoint) is one row once merged, and
 * every read says FINAL, so counts are exact before the merge too. Ordered by (tenant_id, timestamp,
 * id) as the Python system's table, so a tenant's time range is one contiguous read; a partition a
 * month, so old months drop cheaply. LowCardinality for the fields with few values per tenant.
 */
export function schemaStatements(db: string): string[] {
  assertDatabaseName(db);
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.logs (
      tenant_id LowCardinality(String),
      timestamp DateTime64(3, 'UTC'),
      id String,
      position UInt64,
      received_at DateTime64(3, 'UTC'),
      user_id String,
      action LowCardinality(String),
      resource_type LowCardinality(String),
      resource_id Nullable(String),
      ip_address Nullable(String),
      user_agent Nullable(String),
      severity LowCardinality(String),
      before Nullable(String),
      after Nullable(String),
      metadata Nullable(String)
    ) ENGINE = ReplacingMergeTree(position)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (tenant_id, timestamp, id)`,
    // One row per name once merged, the highest version kept (read with FINAL): the events row's
    // version is the commit position, the cleanups row's the cleanup id, so neither moves back.
    `CREATE TABLE IF NOT EXISTS ${db}.sink_checkpoints (
      name LowCardinality(String),
      version UInt64,
      at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY name`,
  ];
}
