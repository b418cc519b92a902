// journal_history.mjs - the DuckDB side of bench/journal_history_bench.c: the history of
// each entity in ENTITIES.txt from the Parquet files in FILES.txt (WHERE entity_id = ?,
// in time order), one prepared statement, every row read back as tarn returns them.
// Prints "p50=S p99=S rows=N" (seconds; rows summed over the queries).
//   node bench/journal_history.mjs FILES.txt ENTITIES.txt     (BENCH_NODE_MODULES)
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.BENCH_NODE_MODULES || new URL('../tests/node_modules', import.meta.url).pathname
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const [listPath, entPath] = process.argv.slice(2)
if (!listPath || !entPath) {
  console.error('usage: node journal_history.mjs FILES.txt ENTITIES.txt')
  process.exit(2)
}
const lines = (p) => readFileSync(p, 'utf8').split('\n').filter(Boolean)
const files = lines(listPath)
const ents = lines(entPath)
const lit = (s) => `'${s.replaceAll("'", "''")}'`
const db = await DuckDBInstance.create(':memory:')
const con = await db.connect()
await con.run("SET TimeZone = 'UTC'")
const stmt = await con.prepare(
  `SELECT * FROM read_parquet([${files.map(lit).join(', ')}]) WHERE entity_id = $1 ORDER BY "timestamp", seq`)
// one warm-up query: file metadata cached as it would be in a running engine
stmt.bind([ents[0]])
await stmt.runAndReadAll()
const secs = []
let rows = 0
for (const e of ents) {
  const t0 = process.hrtime.bigint()
  stmt.bind([e])
  rows += (await stmt.runAndReadAll()).getRowsJS().length
  secs.push(Number(process.hrtime.bigint() - t0) / 1e9)
}
secs.sort((a, b) => a - b)
console.log(`p50=${secs[Math.floor(secs.length / 2)].toFixed(6)} p99=${secs[Math.floor(secs.length * 99 / 100)].toFixed(6)} rows=${rows}`)
