// scan_bench.mjs - the DuckDB side of bench/scan_bench.c: the same Parquet files, the same
// WHERE, one thread; prints "secs=S rows=N" (median wall seconds of 5 runs, rows counted).
//   node bench/scan_bench.mjs FILES.txt "WHERE-PREDICATE"     (BENCH_NODE_MODULES)
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.BENCH_NODE_MODULES || new URL('../tests/node_modules', import.meta.url).pathname
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const [listPath, where] = process.argv.slice(2)
if (!listPath || !where) {
  console.error('usage: node scan_bench.mjs FILES.txt WHERE')
  process.exit(2)
}
const files = readFileSync(listPath, 'utf8').split('\n').filter(Boolean)
const lit = (s) => `'${s.replaceAll("'", "''")}'`
const db = await DuckDBInstance.create(':memory:', { threads: '1' })
const con = await db.connect()
await con.run("SET TimeZone = 'UTC'")
// the rows themselves, as tarn's scan returns them, not just a count
const sql = `SELECT * FROM read_parquet([${files.map(lit).join(', ')}]) WHERE ${where}`
const secs = []
let rows = 0
for (let k = 0; k < 5; k++) {
  const t0 = process.hrtime.bigint()
  rows = (await con.runAndReadAll(sql)).getRowsJS().length
  secs.push(Number(process.hrtime.bigint() - t0) / 1e9)
}
secs.sort((a, b) => a - b)
console.log(`secs=${secs[2].toFixed(5)} rows=${rows}`)
