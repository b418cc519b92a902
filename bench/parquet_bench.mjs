// parquet_bench.mjs - the DuckDB side of bench/parquet_bench.sh, one operation per process
// (so that its peak RSS is that operation's), DuckDB at one thread.
//   node bench/parquet_bench.mjs write SRC.parquet OUT.parquet CODEC
//       loads SRC into an in-memory table first, then times only
//       COPY t TO OUT (FORMAT parquet, COMPRESSION CODEC)
//   node bench/parquet_bench.mjs read FILE.parquet
//       times one SELECT with an aggregate per column that needs every value decoded
// Prints "op=... secs=S cpu=C rows=N file_bytes=B maxrss_kb=K base_rss_kb=K0": wall and CPU
// seconds (the whole process's) of the timed statement; base_rss_kb is the process's RSS
// just before it (node + DuckDB, and for write the table in memory).
// BENCH_NODE_MODULES: tests/node_modules.
import { statSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.BENCH_NODE_MODULES || new URL('../tests/node_modules', import.meta.url).pathname
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const lit = (s) => `'${s.replaceAll("'", "''")}'`

// count(col), min(col) and max(col) are answered from Parquet statistics without reading
// the column; these are about the cheapest aggregates that are not.
function aggregate(name, type) {
  const c = `"${name}"`
  if (type === 'BOOLEAN') return `count_if(${c})`
  if (type === 'VARCHAR' || type === 'BLOB') return `sum(strlen(${c}))`
  if (type === 'DATE') return `sum(${c} - DATE '1970-01-01')`
  if (type.startsWith('TIMESTAMP')) return `sum(epoch_us(${c}))`
  return `sum(${c})`
}

const [op, a, b, codec] = process.argv.slice(2)
const db = await DuckDBInstance.create(':memory:', { threads: '1' })
const con = await db.connect()
let sql
let out
if (op === 'write' && a && b && codec) {
  await con.run(`CREATE TABLE t AS SELECT * FROM read_parquet(${lit(a)})`)
  sql = `COPY t TO ${lit(b)} (FORMAT parquet, COMPRESSION ${codec})`
  out = b
} else if (op === 'read' && a) {
  const cols = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${lit(a)})`)).getRowsJS()
  sql = `SELECT count(*), ${cols.map(([n, t]) => aggregate(n, t)).join(', ')} FROM read_parquet(${lit(a)})`
  out = a
} else {
  console.error('usage: node parquet_bench.mjs write SRC OUT CODEC | read FILE')
  process.exit(2)
}
const base = Math.round(process.memoryUsage().rss / 1024)
const t0 = process.hrtime.bigint()
const c0 = process.cpuUsage()
const r = await con.runAndReadAll(sql)
const secs = Number(process.hrtime.bigint() - t0) / 1e9
const c1 = process.cpuUsage(c0)
const rows = r.getRowsJS()[0][0]
console.log(`op=${op} secs=${secs.toFixed(4)} cpu=${((c1.user + c1.system) / 1e6).toFixed(4)} rows=${rows} file_bytes=${statSync(out).size} ` +
  `maxrss_kb=${process.resourceUsage().maxRSS} base_rss_kb=${base}`)
