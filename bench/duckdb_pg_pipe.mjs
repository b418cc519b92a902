// duckdb_pg_pipe.mjs - the peer for bench/pg_ingest_bench.sh: DuckDB reads a CSV stream
// (PostgreSQL's `COPY t TO STDOUT (FORMAT csv, HEADER)` piped in by psql) and writes it as
// Parquet (snappy) the way its users do it, COPY (SELECT * FROM read_csv(...)) TO ...
// (FORMAT parquet), types detected by read_csv's sniffer. THREADS 0 (the default) leaves
// DuckDB's own default (one per core). Prints "rows seconds threads" on stdout and the
// detected column types on stderr.
//   psql ... -c "COPY t TO STDOUT (FORMAT csv, HEADER)" | node bench/duckdb_pg_pipe.mjs /dev/stdin OUT.parquet [THREADS]
//   (BENCH_NODE_MODULES: tests/node_modules)
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.BENCH_NODE_MODULES || new URL('../tests/node_modules', import.meta.url).pathname
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const [src, out, threads = '0'] = process.argv.slice(2)
if (!src || !out) {
  console.error('usage: node duckdb_pg_pipe.mjs CSV|/dev/stdin OUT.parquet [THREADS]')
  process.exit(2)
}
const q = s => `'${s.replaceAll("'", "''")}'`
const db = await DuckDBInstance.create(':memory:', threads === '0' ? {} : { threads: String(threads) })
const con = await db.connect()
const used = (await con.runAndReadAll(`SELECT current_setting('threads')`)).getRows()[0][0]
const t0 = process.hrtime.bigint()
const r = await con.runAndReadAll(`COPY (SELECT * FROM read_csv(${q(src)})) TO ${q(out)} (FORMAT parquet, COMPRESSION snappy)`)
const secs = Number(process.hrtime.bigint() - t0) / 1e9
const types = (await con.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${q(out)}))`)).getRows()
console.error(`duckdb parquet columns: ${types.map(([n, t]) => `${n}:${t}`).join(' ')}`)
console.log(`${r.getRows()[0][0]} ${secs.toFixed(3)} ${used}`)
