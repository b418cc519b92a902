// action_log_readers.mjs - the tables `tarn sink` wrote, read by independent readers and
// compared with what the producer sent: icebird (the action log through its Iceberg
// metadata), avsc (the current snapshot's manifest list and manifests), DuckDB (the data
// files those manifests list, of both tables).
//   node action_log_readers.mjs --lake DIR --good NDJSON --topic-dump FILE --poison-counts FILE
//                               [--catalog CONNINFO] [--topic T]
//   --good           kafka_produce --ndjson-out: every good event, as produced
//   --topic-dump     kcat -f '%p %o %K %S\n%k%s\n' of the whole topic (raw bytes)
//   --poison-counts  kafka_produce's stderr (`poison kind=K count=C` lines)
//   --catalog        a PostgreSQL conninfo for `tarn table show` (default: the lake's SQLite)
// E2E_TARN_BIN and E2E_NODE_MODULES (icebird, avsc, @duckdb/node-api) from the environment.
// Prints `ok   - ...` / `FAIL - ...` lines and `N passed, M failed`; exit 1 on any failure.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { decodeAvroFile } from './avro_decode.mjs'
import { installLocalFetch } from './local_fetch.mjs'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const tarn = process.env.E2E_TARN_BIN
const args = {}
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]
for (const k of ['lake', 'good', 'topic-dump', 'poison-counts'])
  if (!tarn || !args[k]) throw new Error(`usage: E2E_TARN_BIN=... node action_log_readers.mjs --${k} ... (see the top of the file)`)
const topicName = args.topic || 'ontology.actions.applied.v1'
const icebird = await import(pathToFileURL(path.join(nm, 'icebird/src/index.js')).href)
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)

let passed = 0
let failed = 0
function check(desc, cond, detail) {
  if (cond) {
    passed++
    console.log(`ok   - ${desc}`)
  } else {
    failed++
    console.log(`FAIL - ${desc}${detail ? `: ${detail}` : ''}`)
  }
  return cond
}

// ---- file: URLs for icebird (it reads through globalThis.fetch) ----
installLocalFetch()

// The path of a file: URI, taken literally as Iceberg writes it (not percent-decoded).
function uriToPath(u) {
  const s = String(u)
  if (!s.startsWith('file://')) throw new Error(`not a file URI: ${s}`)
  return s.slice('file://'.length)
}

// ---- what was produced ----

// JSON text with keys sorted at every level: equal values, equal text.
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v).sort().map(k => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`
  return JSON.stringify(v)
}
const COLS = ['event_id', 'action_type_id', 'action_name', 'object_type_id', 'object_id', 'tenant',
  'actor_sub', 'actor_email', 'organization_id', 'status', 'target_classification', 'applied_at_ms',
  'applied_at', 'parameters', 'previous_state', 'new_state']
const JSON_COLS = new Set(['parameters', 'previous_state', 'new_state'])
const DAY_MS = 86400000n

// One event as the row the table should hold, every value a string or null: applied_at in
// microseconds, JSON columns as canonical JSON, "" for object_id/organization_id as null.
function expectedRow(ev) {
  const o = {}
  for (const c of COLS) {
    let v = ev[c]
    if (c === 'applied_at') v = String(BigInt(ev.applied_at_ms) * 1000n)
    else if (c === 'applied_at_ms') v = String(v)
    else if (JSON_COLS.has(c)) v = v === undefined || v === null ? null : canon(v)
    else if ((c === 'object_id' || c === 'organization_id') && v === '') v = null
    else if (v === undefined) v = null
    o[c] = v
  }
  return o
}
// A row read back (strings as stored) into the same form.
function canonRow(r, appliedAtUs) {
  const o = {}
  for (const c of COLS) {
    let v = r[c]
    if (v === undefined || v === null) { o[c] = null; continue }
    if (c === 'applied_at') v = appliedAtUs(v)
    else if (c === 'applied_at_ms') v = String(v)
    else if (JSON_COLS.has(c)) {
      try {
        v = canon(JSON.parse(v))
      } catch {
        v = `not JSON: ${v}`
      }
    }
    o[c] = v
  }
  return o
}

const goodLines = readFileSync(args.good, 'utf8').split('\n').filter(Boolean)
const want = new Map()
for (const l of goodLines) {
  const ev = JSON.parse(l)
  want.set(ev.event_id, expectedRow(ev))
}
check(`the producer's ${goodLines.length} good events have distinct event ids`, want.size === goodLines.length)

// Compares rows read by one reader with `want`: each event once, every column equal.
function sameEvents(reader, rows) {
  const seen = new Map()
  const dups = []
  for (const r of rows) {
    if (seen.has(r.event_id)) dups.push(r.event_id)
    seen.set(r.event_id, r)
  }
  check(`${reader}: ${rows.length} rows, one per event id`, dups.length === 0,
    `${dups.length} repeated, e.g. ${dups.slice(0, 5).join(', ')}`)
  const missing = [...want.keys()].filter(id => !seen.has(id))
  const extra = [...seen.keys()].filter(id => !want.has(id))
  check(`${reader}: exactly the event ids produced`, missing.length === 0 && extra.length === 0,
    `${missing.length} missing (${missing.slice(0, 5).join(', ')}), ${extra.length} not produced (${extra.slice(0, 5).join(', ')})`)
  const bad = []
  for (const [id, w] of want) {
    const g = seen.get(id)
    if (!g) continue
    for (const c of COLS) {
      if (g[c] !== w[c]) {
        bad.push(`${id}.${c}: got ${JSON.stringify(g[c])} want ${JSON.stringify(w[c])}`)
        break
      }
    }
  }
  check(`${reader}: every column of every event equals what was produced`, bad.length === 0,
    `${bad.length} differ: ${bad.slice(0, 3).join('; ')}`)
}

// ---- the topic as kcat read it: partition, offset, key and value bytes ----
function parseDump(buf) {
  const recs = []
  let at = 0
  while (at < buf.length) {
    const nl = buf.indexOf(10, at)
    const [p, o, kl, vl] = buf.subarray(at, nl).toString('latin1').split(' ').map(Number)
    at = nl + 1
    const key = kl < 0 ? null : buf.subarray(at, at + kl)
    at += Math.max(kl, 0)
    const value = vl < 0 ? null : buf.subarray(at, at + vl)
    at += Math.max(vl, 0)
    if (buf[at] !== 10) throw new Error(`topic dump: no newline after ${p}/${o}`)
    at++
    recs.push({ partition: p, offset: o, key, value })
  }
  return recs
}
const topic = parseDump(readFileSync(args['topic-dump']))
const goodSet = new Set(goodLines)
const poisonRecs = topic.filter(r => r.value === null || !goodSet.has(r.value.toString('utf8')) ||
  !Buffer.from(r.value.toString('utf8')).equals(r.value))
check(`the topic holds every good event once (${topic.length} records, ${poisonRecs.length} poison)`,
  topic.length - poisonRecs.length === goodLines.length)
const wantKinds = {}
for (const m of readFileSync(args['poison-counts'], 'utf8').matchAll(/poison kind=(\w+) count=(\d+)/g)) wantKinds[m[1]] = Number(m[2])

// ---- the tables' metadata through the catalog ----
const lake = args.lake
function tarnJson(argv) {
  const extra = args.catalog ? ['--catalog', args.catalog] : []
  const text = execFileSync(tarn, [...argv, '--lake', lake, '--log-level', 'warn', ...extra, '--json'],
    { encoding: 'utf8', maxBuffer: 1 << 28 })
  // snapshot ids are 63-bit: kept exact as strings
  return JSON.parse(text.replace(/("(?:snapshot-id|parent-snapshot-id|current-snapshot-id|current_snapshot_id|snapshot_id|parent_id)"\s*:\s*)(-?\d+)/g, '$1"$2"'))
}

const duck = await (await DuckDBInstance.create(':memory:')).connect()
async function duckRows(sql) {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS()
}
const sq = s => `'${String(s).replaceAll("'", "''")}'`

// The live entries of the current snapshot, decoded with avsc, with the snapshot and spec.
async function liveFiles(table) {
  const show = tarnJson(['table', 'show', table])
  const md = show.metadata
  const snap = md.snapshots.find(s => s['snapshot-id'] === md['current-snapshot-id'])
  const spec = md['partition-specs'].find(s => s['spec-id'] === md['default-spec-id'])
  const ml = await decodeAvroFile(uriToPath(snap['manifest-list']))
  const entries = []
  let listed = 0n
  let counted = 0n
  const bad = []
  for (const mf of ml.records) {
    const m = await decodeAvroFile(uriToPath(mf.manifest_path))
    let added = 0n
    let existing = 0n
    for (const e of m.records) {
      if (e.status === 1) added += e.data_file.record_count
      if (e.status === 0) existing += e.data_file.record_count
      if (e.status !== 2) {
        entries.push(e)
        counted += e.data_file.record_count
      }
    }
    listed += mf.added_rows_count + mf.existing_rows_count
    if (mf.added_rows_count !== added || mf.existing_rows_count !== existing)
      bad.push(`${path.basename(mf.manifest_path)}: list says ${mf.added_rows_count}+${mf.existing_rows_count}, entries ${added}+${existing}`)
  }
  check(`${table}: avsc: ${ml.records.length} manifests of snapshot ${snap['snapshot-id']}, row counts as the manifest list says`,
    bad.length === 0, bad.join('; '))
  check(`${table}: avsc: the ${entries.length} data files' record counts add up to total-records ${snap.summary['total-records']}`,
    String(counted) === snap.summary['total-records'] && listed === counted, `files ${counted}, list ${listed}`)
  const missing = entries.filter(e => {
    const p = uriToPath(e.data_file.file_path)
    return !existsSync(p) || statSync(p).size !== Number(e.data_file.file_size_in_bytes)
  })
  check(`${table}: every listed data file exists with its file_size_in_bytes`, missing.length === 0,
    missing.slice(0, 3).map(e => e.data_file.file_path).join(', '))
  return { show, md, snap, spec, entries, total: Number(counted) }
}

// Parquet files under the table's data folder that no live entry lists (uncommitted
// batches' files): reported, never read.
function orphanCount(location, entries) {
  const listed = new Set(entries.map(e => uriToPath(e.data_file.file_path)))
  let n = 0
  const walk = d => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.parquet') && !listed.has(p)) n++
    }
  }
  const data = path.join(uriToPath(location), 'data')
  if (existsSync(data)) walk(data)
  return n
}

// ---- default.action_log ----
{
  const t = 'default.action_log'
  const { show, md, spec, entries, total } = await liveFiles(t)
  check(`${t}: total-records is the number of good events`, total === goodLines.length, `${total} vs ${goodLines.length}`)
  const schema = md.schemas.find(s => s['schema-id'] === md['current-schema-id'])
  const order = md['sort-orders'].find(o => o['order-id'] === 1)
  check(`${t}: sort order 1 is applied_at_ms ascending`, order && order.fields.length === 1 &&
    order.fields[0]['source-id'] === schema.fields.find(f => f.name === 'applied_at_ms').id &&
    order.fields[0].direction === 'asc' && order.fields[0].transform === 'identity', JSON.stringify(md['sort-orders']))
  check(`${t}: partitioned by day(applied_at) as applied_at_day`, spec.fields.length === 1 &&
    spec.fields[0].name === 'applied_at_day' && spec.fields[0].transform === 'day' &&
    spec.fields[0]['source-id'] === schema.fields.find(f => f.name === 'applied_at').id, JSON.stringify(spec))

  // (a) icebird, from the metadata file the catalog names
  try {
    const rows = await icebird.icebergRead({ tableUrl: show.location, metadataFileName: path.basename(uriToPath(show.metadata_location)) })
    sameEvents('icebird', rows.map(r => canonRow(r, d => String(BigInt(d.getTime()) * 1000n))))
  } catch (e) {
    check('icebird reads the action log', false, e.stack)
  }

  // (b) avsc: every entry's sort order and partition value against its rows (DuckDB)
  const idBad = []
  const soBad = entries.filter(e => e.data_file.sort_order_id !== 1)
  check(`${t}: every data file's manifest entry has sort_order_id 1`, soBad.length === 0,
    soBad.slice(0, 3).map(e => `${path.basename(e.data_file.file_path)}: ${e.data_file.sort_order_id}`).join(', '))
  const partBad = []
  const unsorted = []
  const duckAll = []
  const fieldIds = new Map(schema.fields.map(f => [f.name, f.id]))
  for (const e of entries) {
    const f = uriToPath(e.data_file.file_path)
    const pv = e.data_file.partition.applied_at_day
    const [s] = await duckRows(`SELECT min(applied_at_ms // ${DAY_MS})::BIGINT lo, max(applied_at_ms // ${DAY_MS})::BIGINT hi,
      min(epoch_us(applied_at) // ${DAY_MS * 1000n})::BIGINT ulo, max(epoch_us(applied_at) // ${DAY_MS * 1000n})::BIGINT uhi,
      count(*)::BIGINT n FROM read_parquet(${sq(f)})`)
    if (pv === null || [s.lo, s.hi, s.ulo, s.uhi].some(d => BigInt(d) !== BigInt(pv)))
      partBad.push(`${path.basename(f)}: applied_at_day ${pv}, rows' days ${s.lo}..${s.hi}`)
    if (BigInt(s.n) !== e.data_file.record_count) partBad.push(`${path.basename(f)}: ${s.n} rows, record_count ${e.data_file.record_count}`)
    const [o] = await duckRows(`SELECT count(*)::BIGINT n FROM (SELECT applied_at_ms,
      lag(applied_at_ms) OVER (ORDER BY file_row_number) prev FROM read_parquet(${sq(f)}, file_row_number = true))
      WHERE prev > applied_at_ms`)
    if (BigInt(o.n) !== 0n) unsorted.push(`${path.basename(f)}: ${o.n} rows after a later one`)
    for (const p of await duckRows(`SELECT name, field_id FROM parquet_schema(${sq(f)}) WHERE field_id IS NOT NULL`))
      if (fieldIds.get(p.name) !== Number(p.field_id)) idBad.push(`${path.basename(f)}: ${p.name} field_id ${p.field_id}`)
    duckAll.push(...await duckRows(`SELECT ${COLS.map(c => c === 'applied_at' ? 'epoch_us(applied_at)::VARCHAR AS applied_at'
      : c === 'applied_at_ms' ? 'applied_at_ms::VARCHAR AS applied_at_ms' : `"${c}"`).join(', ')} FROM read_parquet(${sq(f)})`))
  }
  check(`${t}: each data file's applied_at_day is the day of all its rows (applied_at_ms and applied_at), record_count its rows`,
    partBad.length === 0, partBad.slice(0, 3).join('; '))
  check(`${t}: DuckDB: each of the ${entries.length} data files is sorted by applied_at_ms`, unsorted.length === 0, unsorted.slice(0, 3).join('; '))
  check(`${t}: DuckDB: parquet_schema carries the table's field ids`, idBad.length === 0, idBad.slice(0, 3).join('; '))
  // (c) DuckDB over exactly the listed files
  sameEvents(`DuckDB over the ${entries.length} listed data files`, duckAll.map(r => canonRow(r, v => v)))
  console.log(`# ${t}: ${entries.length} data files, ${orphanCount(show.location, entries)} unlisted parquet files left on disk`)
}

// ---- default.action_log_dlq ----
{
  const t = 'default.action_log_dlq'
  const { show, entries, total } = await liveFiles(t)
  const rows = []
  const partBad = []
  for (const e of entries) {
    const f = uriToPath(e.data_file.file_path)
    const got = await duckRows(`SELECT topic, "partition"::INTEGER p, "offset"::BIGINT o, hex("key") k, hex("value") v,
      reason, detail, epoch_us(seen_at) // ${DAY_MS * 1000n} AS day FROM read_parquet(${sq(f)})`)
    const pv = e.data_file.partition.seen_at_day
    if (got.some(r => BigInt(r.day) !== BigInt(pv))) partBad.push(`${path.basename(f)}: seen_at_day ${pv}`)
    rows.push(...got)
  }
  check(`${t}: each data file's seen_at_day is the day of its rows`, partBad.length === 0, partBad.join('; '))
  check(`${t}: one row per poison record (${poisonRecs.length}), total-records agrees`,
    rows.length === poisonRecs.length && total === rows.length, `${rows.length} rows, total-records ${total}`)
  const kinds = {}
  for (const r of rows) kinds[r.reason] = (kinds[r.reason] || 0) + 1
  check(`${t}: reason counts as the producer made them ${JSON.stringify(wantKinds)}`,
    Object.keys({ ...kinds, ...wantKinds }).every(k => (kinds[k] || 0) === (wantKinds[k] || 0)), JSON.stringify(kinds))
  const byPos = new Map(rows.map(r => [`${r.p}/${r.o}`, r]))
  check(`${t}: no (partition, offset) twice`, byPos.size === rows.length)
  const hex = b => (b === null ? null : b.toString('hex').toUpperCase())
  const bad = []
  for (const p of poisonRecs) {
    const r = byPos.get(`${p.partition}/${p.offset}`)
    if (!r) bad.push(`${p.partition}/${p.offset} missing`)
    else if (r.topic !== topicName || r.k !== hex(p.key) || r.v !== hex(p.value) ||
      (p.value === null) !== (r.reason === 'null_value'))
      bad.push(`${p.partition}/${p.offset}: topic ${r.topic} reason ${r.reason} key ${r.k} vs ${hex(p.key)}, value ${String(r.v).slice(0, 40)} vs ${String(hex(p.value)).slice(0, 40)}`)
  }
  check(`${t}: every poison record's topic, key and value bytes as kcat reads them from Kafka`, bad.length === 0,
    `${bad.length} differ: ${bad.slice(0, 3).join('; ')}`)
  const notJson = rows.filter(r => r.reason === 'not_json')
  check(`${t}: not_json details say where (line, column, byte)`, notJson.every(r => /line/.test(r.detail || '') && /byte/.test(r.detail || '')),
    notJson.map(r => r.detail).slice(0, 3).join(' | '))
  console.log(`# ${t}: ${entries.length} data files, ${orphanCount(show.location, entries)} unlisted parquet files left on disk`)
}

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
