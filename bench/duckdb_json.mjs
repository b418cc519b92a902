// duckdb_json.mjs - the peer for bench/sink_bench.sh: DuckDB turns action-audit events
// (NDJSON) into Parquet (zstd) with the columns default.action_log has, at a given thread
// count: the decode-and-encode work the sink does per event. Prints "rows seconds".
//   node bench/duckdb_json.mjs EVENTS.ndjson OUT.parquet THREADS   (BENCH_NODE_MODULES: tests/node_modules)
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.BENCH_NODE_MODULES || new URL('../tests/node_modules', import.meta.url).pathname
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const [src, out, threads] = process.argv.slice(2)
if (!src || !out || !threads) {
  console.error('usage: node duckdb_json.mjs EVENTS.ndjson OUT.parquet THREADS')
  process.exit(2)
}
const q = s => `'${s.replaceAll("'", "''")}'`
const db = await DuckDBInstance.create(':memory:', { threads: String(threads) })
const con = await db.connect()
const cols = `{event_id: 'VARCHAR', action_type_id: 'VARCHAR', action_name: 'VARCHAR',
  object_type_id: 'VARCHAR', object_id: 'VARCHAR', tenant: 'VARCHAR', actor_sub: 'VARCHAR',
  actor_email: 'VARCHAR', organization_id: 'VARCHAR', status: 'VARCHAR',
  target_classification: 'VARCHAR', applied_at_ms: 'BIGINT', parameters: 'JSON',
  previous_state: 'JSON', new_state: 'JSON'}`
const t0 = process.hrtime.bigint()
const r = await con.runAndReadAll(`COPY (
  SELECT event_id, action_type_id, action_name, object_type_id, nullif(object_id, '') AS object_id,
    tenant, actor_sub, actor_email, nullif(organization_id, '') AS organization_id, status,
    target_classification, applied_at_ms, make_timestamptz(applied_at_ms * 1000) AS applied_at,
    parameters::VARCHAR AS parameters, previous_state::VARCHAR AS previous_state,
    new_state::VARCHAR AS new_state
  FROM read_json(${q(src)}, format = 'newline_delimited', columns = ${cols})
  ORDER BY applied_at_ms
) TO ${q(out)} (FORMAT parquet, COMPRESSION zstd)`)
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(`${r.getRows()[0][0]} ${secs.toFixed(3)}`)
