// duckdb_copy.mjs - the peer for bench/ingest_bench.sh: DuckDB converts a CSV to Parquet
// (snappy) the way its users do it, COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet),
// at a given thread count. Prints "rows seconds" on stdout.
//   node bench/duckdb_copy.mjs CSV OUT.parquet THREADS      (BENCH_NODE_MODULES: tests/node_modules)
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.BENCH_NODE_MODULES || new URL('../tests/node_modules', import.meta.url).pathname
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const [csv, out, threads] = process.argv.slice(2)
if (!csv || !out || !threads) {
  console.error('usage: node duckdb_copy.mjs CSV OUT.parquet THREADS')
  process.exit(2)
}
const q = s => `'${s.replaceAll("'", "''")}'`
const db = await DuckDBInstance.create(':memory:', { threads: String(threads) })
const con = await db.connect()
const t0 = process.hrtime.bigint()
const r = await con.runAndReadAll(`COPY (SELECT * FROM read_csv(${q(csv)})) TO ${q(out)} (FORMAT parquet, COMPRESSION snappy)`)
const secs = Number(process.hrtime.bigint() - t0) / 1e9
console.log(`${r.getRows()[0][0]} ${secs.toFixed(3)}`)
