// table_interop.mjs - Iceberg tables written by the tarn binary, read by independent readers:
// icebird (the whole table), avsc (every manifest list and manifest: header schemas, header
// metadata, values), DuckDB (every data file; field ids) and `tarn table scan` itself.
//   node table_interop.mjs WORKDIR      (E2E_TARN_BIN, E2E_NODE_MODULES from the environment)
// The tables are built here with `tarn table create|append|overwrite|add-column`, keeping
// the rows each table should hold; every reader must return exactly those rows.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { decodeAvroFile } from './avro_decode.mjs'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const tarn = process.env.E2E_TARN_BIN
const work = process.argv[2]
if (!tarn || !work) throw new Error('usage: E2E_TARN_BIN=... node table_interop.mjs WORKDIR')
const require = createRequire(import.meta.url)
const avro = require(path.join(nm, 'avsc'))
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

// ---- a fetch for file: URLs (icebird reads through globalThis.fetch) ----
// Iceberg paths are URIs whose file names are written literally (a '%' in a Hive-style
// partition folder is part of the name), so the path is taken as it is, not decoded.
function uriToPath(u) {
  const s = String(u)
  if (!s.startsWith('file://')) throw new Error(`not a file URI: ${s}`)
  return s.slice('file://'.length)
}
globalThis.fetch = async (url, init = {}) => {
  const p = uriToPath(url)
  let data
  try {
    data = readFileSync(p)
  } catch {
    return new Response(null, { status: 404, statusText: 'Not Found' })
  }
  const method = (init.method || 'GET').toUpperCase()
  if (method === 'HEAD') return new Response(null, { status: 200, headers: { 'content-length': String(data.length) } })
  const range = new Headers(init.headers).get('range')
  if (range) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(range)
    if (!m) return new Response(null, { status: 416 })
    const start = Number(m[1])
    const end = m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1)
    const body = data.subarray(start, end + 1)
    return new Response(body, {
      status: 206,
      headers: { 'content-length': String(body.length), 'content-range': `bytes ${start}-${end}/${data.length}` },
    })
  }
  return new Response(data, { status: 200, headers: { 'content-length': String(data.length) } })
}

// ---- driving tarn ----

const lake = path.join(work, 'lake')
mkdirSync(lake, { recursive: true })
function tarnRun(args, input) {
  return execFileSync(tarn, [...args, '--lake', lake, '--log-level', 'warn'], {
    input, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'],
  })
}
// JSON with int64 ids kept exact: snapshot ids are 63-bit.
function parseJsonBig(text) {
  return JSON.parse(text.replace(/("(?:snapshot-id|parent-snapshot-id|current-snapshot-id|snapshot_id|parent_id)"\s*:\s*)(-?\d+)/g, '$1"$2"'))
}

// ---- deterministic data ----

let seed = 12345
function rnd(n) {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
}
const pad = (n, w = 2) => String(n).padStart(w, '0')
function isoDate(days) {
  return new Date(days * 86400000).toISOString().slice(0, 10)
}
function isoMicros(us, z) {
  const ms = Math.floor(us / 1000)
  const frac = us - ms * 1000
  return new Date(ms).toISOString().slice(0, 23) + pad(frac, 3) + (z ? 'Z' : '')
}
function timeText(us) {
  const s = Math.floor(us / 1e6)
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${pad(us % 1e6, 6)}`
}
function decText(unscaled, scale) {
  const neg = unscaled < 0n
  let s = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0')
  s = scale > 0 ? `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}` : s
  return (neg ? '-' : '') + s
}
const WORDS = ['alpha', 'beta', 'γάμμα', 'delta, with comma', 'say "hi"', 'a-rather-long-string-over-sixteen-chars', 'zz', '']

// A column set: name, Iceberg type, generator of the canonical value (or null) and the
// JSON the tarn input gets for it.
const T0 = 1767225600000000 // 2026-01-01T00:00:00Z in microseconds
function plainRow(id) {
  const nul = k => rnd(11) === k
  const us = T0 + rnd(5 * 86400) * 1000000 + rnd(1000000)
  const uus = T0 + rnd(3 * 86400) * 1000000 + rnd(1000) * 1000
  const dec = BigInt(rnd(2000000) - 1000000)
  const wide = BigInt(rnd(1000000000)) * 10007n - 5000000000n
  const bin = Buffer.from([...Array(rnd(20)).keys()].map(j => (id * 7 + j * 13) & 255))
  const fx = Buffer.from([id & 255, (id >> 8) & 255, 0xfe, rnd(256)])
  const uuid = [...Array(16).keys()].map(j => pad(((id * 31 + j * 17) & 255).toString(16))).join('')
  const u = `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20)}`
  const f = (rnd(4000) - 2000) / 8
  const d = (rnd(2000000) - 1000000) / 1024
  const tm = rnd(86400) * 1000000 + rnd(1000000)
  const r = {
    id: { canon: String(id), json: id },
    i: nul(0) ? null : { canon: String(rnd(200000) - 100000) },
    f: nul(1) ? null : { canon: String(Math.fround(f)), json: f },
    d: nul(2) ? null : { canon: String(d), json: d },
    b: nul(3) ? null : { canon: String(rnd(2) === 1) },
    s: nul(4) ? null : { canon: `${WORDS[rnd(WORDS.length)]}-${id}` },
    dt: nul(5) ? null : { canon: isoDate(20454 + rnd(40) - 20) },
    ts: nul(6) ? null : { canon: String(us), json: isoMicros(us, false) },
    tstz: nul(7) ? null : { canon: String(uus), json: isoMicros(uus, true) },
    dec: nul(8) ? null : { canon: decText(dec, 2) },
    wide: nul(9) ? null : { canon: decText(wide, 4) },
    u: nul(10) ? null : { canon: u },
    bin: rnd(7) === 0 ? null : { canon: bin.toString('hex'), json: bin.toString('base64') },
    fx: rnd(7) === 0 ? null : { canon: fx.toString('hex'), json: fx.toString('base64') },
    tm: rnd(7) === 0 ? null : { canon: String(tm), json: timeText(tm) },
  }
  for (const k of ['i']) if (r[k]) r[k].json = Number(r[k].canon)
  for (const k of ['b']) if (r[k]) r[k].json = r[k].canon === 'true'
  for (const k of ['s', 'dt', 'dec', 'wide', 'u']) if (r[k]) r[k].json = r[k].canon
  return r
}

function dailyRow(id, day) {
  const us = T0 + day * 86400000000 + rnd(86400) * 1000000 + rnd(1000) * 1000
  return {
    id: { canon: String(id), json: id },
    ts: { canon: String(us), json: isoMicros(us, true) },
    name: rnd(6) === 0 ? null : { canon: `${WORDS[rnd(WORDS.length)]}#${id}`, json: null },
    amount: rnd(8) === 0 ? null : { canon: decText(BigInt(rnd(100000) - 20000), 2), json: null },
  }
}

function multiRow(id) {
  const us = T0 + rnd(120) * 86400000000 + rnd(86400) * 1000000
  return {
    id: { canon: String(id), json: id },
    s: rnd(9) === 0 ? null : { canon: `${WORDS[rnd(WORDS.length)]}` },
    cat: rnd(5) === 0 ? null : { canon: ['red', 'green', 'blue'][rnd(3)] },
    ts: { canon: String(us), json: isoMicros(us, true) },
    n: { canon: String(rnd(1000)) },
  }
}

function jsonl(rows) {
  return rows.map(r => {
    const o = {}
    for (const [k, v] of Object.entries(r)) {
      if (v === null) o[k] = null
      else o[k] = v.json !== undefined && v.json !== null ? v.json : v.canon
    }
    return JSON.stringify(o)
  }).join('\n') + '\n'
}

// ---- building the tables ----

const tables = {} // name -> { cols: {name: type}, rows: Map(id -> row) }
function create(name, schema, extra = []) {
  const out = JSON.parse(tarnRun(['table', 'create', name, '--schema', schema, ...extra, '--json']))
  const cols = {}
  for (const part of schema.split(/,(?![^(]*\))/)) {
    const [cn, ...ty] = part.trim().split(/\s+/)
    cols[cn] = ty.join(' ').replace(/\s*not null$/i, '').replace(/\s+/g, '')
  }
  tables[name] = { cols, rows: new Map(), location: out.location }
  return out
}
function append(name, rows) {
  const f = path.join(work, `in-${rnd(1e9)}.jsonl`)
  writeFileSync(f, jsonl(rows))
  const out = JSON.parse(tarnRun(['table', 'append', name, '--jsonl', f, '--json']))
  for (const r of rows) tables[name].rows.set(r.id.canon, r)
  return out
}

// 1. unpartitioned, every type: three appends, a full overwrite, one more append
create('interop.plain', 'id long not null, i int, f float, d double, b boolean, s string, dt date, ' +
  'ts timestamp, tstz timestamptz, dec decimal(10,2), wide decimal(25,4), u uuid, bin binary, ' +
  'fx fixed[4], tm time', ['--property', 'write.parquet.compression-codec=snappy'])
let next = 1
for (let k = 0; k < 3; k++) append('interop.plain', [...Array(40).keys()].map(() => plainRow(next++)))
{
  const rows = [...Array(30).keys()].map(() => plainRow(next++))
  const f = path.join(work, 'plain-ow.jsonl')
  writeFileSync(f, jsonl(rows))
  const out = JSON.parse(tarnRun(['table', 'overwrite', 'interop.plain', '--jsonl', f, '--json']))
  check('overwrite of interop.plain commits an overwrite', out.operation === 'overwrite' && out.rows === 30, JSON.stringify(out))
  tables['interop.plain'].rows = new Map(rows.map(r => [r.id.canon, r]))
}
append('interop.plain', [...Array(25).keys()].map(() => plainRow(next++)))

// 2. day-partitioned: appends, a dynamic overwrite of one day, a new column, more appends
create('interop.daily', 'id long not null, ts timestamptz not null, name string, amount decimal(10,2)',
  ['--partition', 'day(ts)', '--sort', 'id asc nulls-last'])
for (let k = 0; k < 3; k++) append('interop.daily', [...Array(60).keys()].map(i => dailyRow(next++, i % 4)))
{
  const rows = [...Array(7).keys()].map(() => dailyRow(next++, 2))
  const f = path.join(work, 'daily-ow.jsonl')
  writeFileSync(f, jsonl(rows))
  const out = JSON.parse(tarnRun(['table', 'overwrite', 'interop.daily', '--jsonl', f, '--dynamic', '--json']))
  check('dynamic overwrite of one day', out.operation === 'overwrite' && out.files === 1, JSON.stringify(out))
  const t = tables['interop.daily']
  for (const [id, r] of [...t.rows]) {
    if (Math.floor((Number(r.ts.canon) - T0) / 86400000000) === 2) t.rows.delete(id)
  }
  for (const r of rows) t.rows.set(r.id.canon, r)
}
{
  const out = JSON.parse(tarnRun(['table', 'add-column', 'interop.daily', 'score', 'double', '--json']))
  check('add-column gives field id 5 in schema 1', out.field_id === 5 && out.schema_id === 1, JSON.stringify(out))
  const t = tables['interop.daily']
  t.cols.score = 'double'
  for (const r of t.rows.values()) r.score = null
}
append('interop.daily', [...Array(30).keys()].map(i => {
  const r = dailyRow(next++, i % 5)
  r.score = rnd(4) === 0 ? null : { canon: String((rnd(1000) - 500) / 4), json: (rnd(1000) - 500) / 4 }
  if (r.score) r.score.canon = String(r.score.json)
  return r
}))

// 3. several transforms at once
create('interop.multi', 'id long not null, s string, cat string, ts timestamptz not null, n int',
  ['--partition', 'bucket(4, id), truncate(3, s), identity(cat), month(ts)'])
for (let k = 0; k < 2; k++) append('interop.multi', [...Array(50).keys()].map(() => multiRow(next++)))

// ---- canonical forms ----

function typeOf(t) {
  if (t.startsWith("decimal")) return { kind: "decimal", scale: Number(/,\s*(\d+)\)/.exec(t)[1]) }
  if (t.startsWith('fixed')) return { kind: 'fixed' }
  return { kind: t }
}
function expectedRows(name) {
  const t = tables[name]
  return [...t.rows.values()].map(r => {
    const o = {}
    for (const c of Object.keys(t.cols)) o[c] = r[c] ? r[c].canon : null
    return o
  })
}
function sortRows(rows) {
  return rows.slice().sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0))
}
function sameRows(desc, got, want) {
  const g = sortRows(got)
  const w = sortRows(want)
  if (g.length !== w.length) return check(desc, false, `${g.length} rows, want ${w.length}`)
  for (let i = 0; i < g.length; i++) {
    const a = JSON.stringify(g[i])
    const b = JSON.stringify(w[i])
    if (a !== b) return check(desc, false, `row ${i}: got ${a} want ${b}`)
  }
  return check(desc, true)
}
function isoToMicros(s) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z?$/.exec(s)
  if (!m) return `bad:${s}`
  const ms = Date.parse(`${m[1]}T${m[2]}Z`)
  return String(BigInt(ms) * 1000n + BigInt((m[3] || '').padEnd(6, '0') || '0'))
}
function timeToMicros(s) {
  const m = /^(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(s)
  return String((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1e6 + Number((m[4] || '').padEnd(6, '0')))
}

// tarn scan JSON lines -> canonical
function fromTarn(name, line) {
  const o = JSON.parse(line.replace(/("id"\s*:\s*)(-?\d+)/, '$1"$2"'))
  const out = {}
  for (const [c, t] of Object.entries(tables[name].cols)) {
    const v = o[c]
    const ty = typeOf(t)
    if (v === null || v === undefined) { out[c] = null; continue }
    switch (ty.kind) {
      case 'float': out[c] = String(Math.fround(Number(v))); break
      case 'timestamp': case 'timestamptz': out[c] = isoToMicros(v); break
      case 'time': out[c] = timeToMicros(v); break
      case 'binary': case 'fixed': out[c] = Buffer.from(v, 'base64').toString('hex'); break
      default: out[c] = String(v)
    }
  }
  return out
}

// icebird row -> canonical (its hyparquet gives Date with millisecond precision, decimals as
// floating numbers and BYTE_ARRAY as UTF-8 text: compared at that precision)
function fromIcebird(name, row) {
  const out = {}
  for (const [c, t] of Object.entries(tables[name].cols)) {
    const v = row[c]
    const ty = typeOf(t)
    if (v === null || v === undefined) { out[c] = null; continue }
    switch (ty.kind) {
      case 'float': out[c] = String(Math.fround(v)); break
      case 'date': out[c] = v.toISOString().slice(0, 10); break
      case 'timestamp': case 'timestamptz': out[c] = String(BigInt(v.getTime())); break
      case 'decimal': out[c] = v.toFixed(ty.scale); break
      case 'binary': out[c] = typeof v === 'string' ? v : new TextDecoder().decode(v); break
      case 'fixed': case 'uuid': {
        const hex = Buffer.from(v).toString('hex')
        out[c] = ty.kind === 'uuid' && typeof v !== 'string'
          ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
          : typeof v === 'string' ? v : hex
        break
      }
      default: out[c] = String(v)
    }
  }
  return out
}
function expectedForIcebird(name) {
  return expectedRows(name).map(r => {
    const o = {}
    for (const [c, t] of Object.entries(tables[name].cols)) {
      const v = r[c]
      const ty = typeOf(t)
      if (v === null) { o[c] = null; continue }
      if (ty.kind === 'timestamp' || ty.kind === 'timestamptz') o[c] = String(BigInt(v) / 1000n)
      else if (ty.kind === 'binary') o[c] = new TextDecoder().decode(Buffer.from(v, 'hex'))
      else o[c] = v
    }
    return o
  })
}

// DuckDB: canonical SQL per column
function duckExpr(c, t) {
  const q = `"${c}"`
  switch (typeOf(t).kind) {
    case 'float': case 'double': return `${q}::DOUBLE AS ${q}`
    case 'timestamp': case 'timestamptz': return `epoch_us(${q})::VARCHAR AS ${q}`
    case 'time': return `((hour(${q}) * 3600 + minute(${q}) * 60)::BIGINT * 1000000 + microsecond(${q}))::VARCHAR AS ${q}`
    case 'binary': case 'fixed': return `lower(hex(${q})) AS ${q}`
    case 'boolean': return `${q}::VARCHAR AS ${q}`
    default: return `${q}::VARCHAR AS ${q}`
  }
}

// ---- Avro decoding with avsc ----

const decodeAvro = decodeAvroFile

// Finds a field by name in a record schema (looking through ["null", X] unions).
function fieldOf(rec, name) {
  const t = Array.isArray(rec) ? rec.find(x => x !== 'null') : rec
  const r = t.type && typeof t.type === 'object' && !Array.isArray(t.type) && t.type.fields ? t.type : t
  return (r.fields || []).find(f => f.name === name)
}
function nonNull(t) {
  return Array.isArray(t) ? t.find(x => x !== 'null') : t
}

const ENTRY_IDS = { status: 0, snapshot_id: 1, sequence_number: 3, file_sequence_number: 4, data_file: 2 }
const DATA_FILE_IDS = {
  content: 134, file_path: 100, file_format: 101, partition: 102, record_count: 103,
  file_size_in_bytes: 104, column_sizes: 108, value_counts: 109, null_value_counts: 110,
  nan_value_counts: 137, lower_bounds: 125, upper_bounds: 128, key_metadata: 131,
  split_offsets: 132, equality_ids: 135, sort_order_id: 140,
}
const MAP_IDS = {
  column_sizes: [117, 118], value_counts: [119, 120], null_value_counts: [121, 122],
  nan_value_counts: [138, 139], lower_bounds: [126, 127], upper_bounds: [129, 130],
}
const LIST_IDS = {
  manifest_path: 500, manifest_length: 501, partition_spec_id: 502, content: 517,
  sequence_number: 515, min_sequence_number: 516, added_snapshot_id: 503,
  added_files_count: 504, existing_files_count: 505, deleted_files_count: 506,
  added_rows_count: 512, existing_rows_count: 513, deleted_rows_count: 514, partitions: 507,
  key_metadata: 519,
}
const SUMMARY_IDS = { contains_null: 509, contains_nan: 518, lower_bound: 510, upper_bound: 511 }

function checkIds(desc, rec, want) {
  const bad = []
  for (const [n, id] of Object.entries(want)) {
    const f = fieldOf(rec, n)
    if (!f) bad.push(`${n} missing`)
    else if (f['field-id'] !== id) bad.push(`${n} field-id ${f['field-id']} want ${id}`)
  }
  return check(desc, bad.length === 0, bad.join('; '))
}

// Appendix D single-value decoding into the canonical form.
function decodeBound(t, buf) {
  const ty = typeOf(t)
  switch (ty.kind) {
    case 'boolean': return String(buf[0] !== 0)
    case 'int': return String(buf.readInt32LE(0))
    case 'date': return isoDate(buf.readInt32LE(0))
    case 'long': case 'timestamp': case 'timestamptz': case 'time': return String(buf.readBigInt64LE(0))
    case 'float': return String(buf.readFloatLE(0))
    case 'double': return String(buf.readDoubleLE(0))
    case 'string': return buf.toString('utf8')
    case 'decimal': {
      let v = 0n
      for (const b of buf) v = v * 256n + BigInt(b)
      if (buf.length && buf[0] & 0x80) v -= 1n << BigInt(8 * buf.length)
      return decText(v, ty.scale)
    }
    case 'uuid': {
      const h = buf.toString('hex')
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
    }
    default: return buf.toString('hex')
  }
}
function cmpCanon(t, a, b) {
  const ty = typeOf(t)
  switch (ty.kind) {
    case 'int': case 'long': case 'timestamp': case 'timestamptz': case 'time':
      return BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0
    case 'float': case 'double': return Number(a) - Number(b)
    case 'decimal': {
      const s = x => BigInt(x.replace('.', ''))
      return s(a) < s(b) ? -1 : s(a) > s(b) ? 1 : 0
    }
    case 'boolean': return (a === 'true') - (b === 'true')
    case 'string': return Buffer.compare(Buffer.from(a), Buffer.from(b))
    case 'binary': case 'fixed': return Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'))
    case 'uuid': return Buffer.compare(Buffer.from(a.replace(/-/g, ''), 'hex'), Buffer.from(b.replace(/-/g, ''), 'hex'))
    default: return a < b ? -1 : a > b ? 1 : 0
  }
}

// Iceberg partition transforms on canonical values.
function murmur3(bytes) {
  let h = 0
  const n = bytes.length
  const k4 = n & ~3
  for (let i = 0; i < k4; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
    k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593)
    h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  switch (n & 3) {
    case 3: k ^= bytes[k4 + 2] << 16 // falls through
    case 2: k ^= bytes[k4 + 1] << 8 // falls through
    case 1: k ^= bytes[k4]; k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593); h ^= k
  }
  h ^= n
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16
  return h | 0
}
function applyTransform(tr, t, v) {
  if (v === null) return null
  const ty = typeOf(t)
  if (tr === 'identity') return v
  if (tr === 'day') return Number(BigInt(v) / 86400000000n)
  if (tr === 'month' || tr === 'year') {
    const d = new Date(Number(BigInt(v) / 1000n))
    return tr === 'year' ? d.getUTCFullYear() - 1970 : (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth()
  }
  let m = /^bucket\[(\d+)\]$/.exec(tr)
  if (m) {
    let bytes
    if (ty.kind === 'long' || ty.kind === 'int') {
      bytes = Buffer.alloc(8)
      bytes.writeBigInt64LE(BigInt(v))
    } else {
      bytes = Buffer.from(v)
    }
    return (murmur3(bytes) & 0x7fffffff) % Number(m[1])
  }
  m = /^truncate\[(\d+)\]$/.exec(tr)
  if (m) return [...v].slice(0, Number(m[1])).join('')
  throw new Error(`transform ${tr}`)
}
function partitionCanon(v) {
  if (v === null || v === undefined) return null
  if (typeof v === 'bigint') return Number(v)
  return v
}

// ---- the checks, table by table ----

const duck = await (await DuckDBInstance.create(':memory:')).connect()
async function duckRows(sql) {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS()
}

for (const name of Object.keys(tables)) {
  const t = tables[name]
  const want = expectedRows(name)
  const loc = t.location
  const locPath = uriToPath(loc)
  console.log(`# ${name}: ${want.length} rows`)

  // tarn itself
  const scanned = tarnRun(['table', 'scan', name]).split('\n').filter(Boolean).map(l => fromTarn(name, l))
  sameRows(`${name}: tarn table scan returns the rows appended`, scanned, want)

  // metadata through the version hint, as path-based readers find it
  const hint = readFileSync(path.join(locPath, 'metadata/version-hint.text'), 'utf8').trim()
  const mdText = readFileSync(path.join(locPath, `metadata/v${hint}.metadata.json`), 'utf8')
  const md = parseJsonBig(mdText)
  const show = parseJsonBig(tarnRun(['table', 'show', name, '--json']))
  check(`${name}: version-hint.text names the current metadata (v${hint})`,
    JSON.stringify(md) === JSON.stringify(show.metadata), 'v<N>.metadata.json differs from the catalog\'s current metadata')
  check(`${name}: format-version 2`, md['format-version'] === 2)

  // (a) icebird reads the table
  try {
    const rows = await icebird.icebergRead({ tableUrl: loc })
    sameRows(`${name}: icebird reads exactly the rows tarn appended`, rows.map(r => fromIcebird(name, r)), expectedForIcebird(name))
  } catch (e) {
    check(`${name}: icebird reads the table`, false, e.stack)
  }

  // (b) avsc: the manifest list and manifests of the current snapshot (and of every
  // snapshot for the header checks)
  const schema = md.schemas.find(s => s['schema-id'] === md['current-schema-id'])
  const spec = md['partition-specs'].find(s => s['spec-id'] === md['default-spec-id'])
  const live = [] // { entry, path }
  let listsChecked = 0
  let manifestsChecked = 0
  const seenManifests = new Set()
  for (const snap of md.snapshots) {
    const current = snap['snapshot-id'] === md['current-snapshot-id']
    const listPath = uriToPath(snap['manifest-list'])
    const ml = await decodeAvro(listPath)
    listsChecked++
    const lrec = ml.schema
    if (!checkIds(`${name}: manifest list ${path.basename(listPath)}: field ids of manifest_file`, lrec, LIST_IDS)) continue
    const parts = nonNull(fieldOf(lrec, 'partitions').type)
    check(`${name}: manifest list: partitions element-id 508`, parts['element-id'] === 508, JSON.stringify(parts))
    checkIds(`${name}: manifest list: field_summary field ids`, parts.items, SUMMARY_IDS)
    check(`${name}: manifest list header: snapshot-id, parent-snapshot-id, sequence-number, format-version`,
      ml.meta['snapshot-id'] === snap['snapshot-id'] &&
      (ml.meta['parent-snapshot-id'] ?? 'null') === String(snap['parent-snapshot-id'] ?? 'null') &&
      ml.meta['sequence-number'] === String(snap['sequence-number']) && ml.meta['format-version'] === '2',
      JSON.stringify(ml.meta))
    for (const mf of ml.records) {
      const mpath = uriToPath(mf.manifest_path)
      check(`${name}: manifest ${path.basename(mpath)} exists with the listed length`,
        existsSync(mpath) && statSync(mpath).size === Number(mf.manifest_length))
      const m = await decodeAvro(mpath)
      const erec = m.schema
      let counts = { 0: 0, 1: 0, 2: 0 }
      let rows = { 0: 0n, 1: 0n, 2: 0n }
      for (const e of m.records) {
        counts[e.status]++
        rows[e.status] += e.data_file.record_count
      }
      check(`${name}: manifest list counts match manifest ${path.basename(mpath)}`,
        mf.added_files_count === counts[1] && mf.existing_files_count === counts[0] &&
        mf.deleted_files_count === counts[2] && mf.added_rows_count === rows[1] &&
        mf.existing_rows_count === rows[0] && mf.deleted_rows_count === rows[2] && mf.content === 0,
        JSON.stringify({ mf, counts, rows: Object.values(rows).map(String) }, (k, v) => typeof v === 'bigint' ? String(v) : v))
      // partition summaries cover the entries' partition values
      const mspec = md['partition-specs'].find(s => s['spec-id'] === mf.partition_spec_id)
      const mschema = md.schemas.find(s => s['schema-id'] === Number(m.meta['schema-id']))
      mspec.fields.forEach((pf, j) => {
        const sum = mf.partitions[j]
        const srcType = mschema.fields.find(f => f.id === pf['source-id']).type
        const resType = pf.transform === 'day' ? 'date' : /^(bucket|month|year)/.test(pf.transform) ? 'int' : srcType
        const vals = m.records.map(e => partitionCanon(e.data_file.partition[pf.name]))
        const nn = vals.filter(v => v !== null).map(v => resType === 'date' ? isoDate(v) : String(v))
        const lo = sum.lower_bound ? decodeBound(resType, sum.lower_bound) : null
        const hi = sum.upper_bound ? decodeBound(resType, sum.upper_bound) : null
        const ok = sum.contains_null === vals.includes(null) &&
          (nn.length === 0 ? lo === null && hi === null
            : nn.every(v => cmpCanon(resType, lo, v) <= 0 && cmpCanon(resType, v, hi) <= 0) && nn.includes(lo) && nn.includes(hi))
        check(`${name}: manifest list partition summary ${pf.name} bounds its values`, ok,
          JSON.stringify({ contains_null: sum.contains_null, lo, hi, nn }))
      })
      if (seenManifests.has(mpath)) {
        if (current) for (const e of m.records) if (e.status !== 2) live.push(e)
        continue
      }
      seenManifests.add(mpath)
      manifestsChecked++
      // header schema field ids
      checkIds(`${name}: manifest ${path.basename(mpath)}: manifest_entry field ids`, erec, ENTRY_IDS)
      const df = fieldOf(erec, 'data_file').type
      checkIds(`${name}: manifest: data_file field ids`, df, DATA_FILE_IDS)
      const mapBad = []
      for (const [mn, [kid, vid]] of Object.entries(MAP_IDS)) {
        const arr = nonNull(fieldOf(df, mn).type)
        const kv = arr.items
        if (arr.type !== 'array' || arr.logicalType !== 'map' || fieldOf(kv, 'key')['field-id'] !== kid ||
          fieldOf(kv, 'value')['field-id'] !== vid) mapBad.push(mn)
      }
      check(`${name}: manifest: int-keyed maps are arrays of key/value records with their field ids`, mapBad.length === 0, mapBad.join(','))
      const so = nonNull(fieldOf(df, 'split_offsets').type)
      check(`${name}: manifest: split_offsets element-id 133`, so['element-id'] === 133)
      const prec = fieldOf(df, 'partition').type
      check(`${name}: manifest: partition record fields carry the spec's field ids`,
        JSON.stringify(prec.fields.map(f => [f.name, f['field-id']])) ===
        JSON.stringify(mspec.fields.map(f => [f.name, f['field-id']])), JSON.stringify(prec.fields))
      // header metadata
      const hschema = JSON.parse(m.meta.schema)
      const hspec = JSON.parse(m.meta['partition-spec'])
      check(`${name}: manifest header: schema, schema-id, partition-spec, partition-spec-id, format-version, content`,
        hschema.type === 'struct' && JSON.stringify(hschema.fields.map(f => [f.id, f.name, f.type])) ===
          JSON.stringify(mschema.fields.map(f => [f.id, f.name, f.type])) &&
        Number(m.meta['schema-id']) === mschema['schema-id'] &&
        JSON.stringify(hspec) === JSON.stringify(mspec.fields) &&
        m.meta['partition-spec-id'] === String(mf.partition_spec_id) &&
        m.meta['format-version'] === '2' && m.meta.content === 'data', JSON.stringify(m.meta))
      // values: paths, sizes, record counts, partition values, metrics and bounds vs the file
      for (const e of m.records) {
        const f = e.data_file
        const fpath = uriToPath(f.file_path)
        if (current && e.status !== 2) live.push(e)
        if (e.status === 2) continue
        if (!check(`${name}: data file ${path.basename(fpath)} exists with file_size_in_bytes`,
          existsSync(fpath) && statSync(fpath).size === Number(f.file_size_in_bytes))) continue
        const pqcols = await duckRows(`SELECT name, field_id FROM parquet_schema('${fpath}') WHERE field_id IS NOT NULL`)
        const present = mschema.fields.filter(c => pqcols.some(p => p.name === c.name))
        const fileRows = await duckRows(`SELECT ${present.map(c => duckExpr(c.name, c.type)).join(', ')} FROM read_parquet('${fpath}')`)
        check(`${name}: ${path.basename(fpath)}: record_count ${f.record_count}`, fileRows.length === Number(f.record_count))
        const fr = fileRows.map(r => {
          const o = {}
          for (const c of present) o[c.name] = r[c.name] === null ? null : typeOf(c.type).kind === 'float' ? String(Math.fround(r[c.name])) : String(r[c.name])
          return o
        })
        // partition values: every row maps to the entry's tuple
        const pbad = []
        for (const pf of mspec.fields) {
          const src = mschema.fields.find(c => c.id === pf['source-id'])
          const pv = partitionCanon(f.partition[pf.name])
          for (const r of fr) {
            const got = applyTransform(pf.transform, src.type, r[src.name])
            if (got !== pv) { pbad.push(`${pf.name}: row ${r.id} -> ${got}, partition ${pv}`); break }
          }
        }
        check(`${name}: ${path.basename(fpath)}: partition values match its rows`, pbad.length === 0, pbad.join('; '))
        // metrics keyed by field id
        const byId = arr => new Map((arr || []).map(kv => [kv.key, kv.value]))
        const vc = byId(f.value_counts)
        const ncount = byId(f.null_value_counts)
        const lower = byId(f.lower_bounds)
        const upper = byId(f.upper_bounds)
        const mbad = []
        for (const c of present) {
          const vals = fr.map(r => r[c.name])
          const nn = vals.filter(v => v !== null)
          if (Number(vc.get(c.id)) !== vals.length) mbad.push(`${c.name} value_count ${vc.get(c.id)}`)
          if (Number(ncount.get(c.id)) !== vals.length - nn.length) mbad.push(`${c.name} null_count ${ncount.get(c.id)}`)
          if (nn.length === 0) {
            if (lower.has(c.id) || upper.has(c.id)) mbad.push(`${c.name}: bounds for an all-null column`)
            continue
          }
          const sorted = nn.slice().sort((a, b) => cmpCanon(c.type, a, b))
          const min = sorted[0]
          const max = sorted[sorted.length - 1]
          const lo = lower.has(c.id) ? decodeBound(c.type, lower.get(c.id)) : undefined
          const hi = upper.has(c.id) ? decodeBound(c.type, upper.get(c.id)) : undefined
          const kind = typeOf(c.type).kind
          if (kind === 'string') {
            // truncate(16): the lower bound is a prefix of the minimum, the upper bound at
            // least the maximum (rounded up when truncated)
            if (lo === undefined || !(lo === min || ([...lo].length === 16 && min.startsWith(lo)))) mbad.push(`${c.name} lower ${lo} min ${min}`)
            if (hi !== undefined && !(hi === max || ([...hi].length === 16 && cmpCanon('string', hi, max) > 0))) mbad.push(`${c.name} upper ${hi} max ${max}`)
          } else if (kind === 'binary') {
            if (lo === undefined || !(lo === min || (lo.length === 32 && min.startsWith(lo)))) mbad.push(`${c.name} lower ${lo} min ${min}`)
            if (hi !== undefined && !(hi === max || (hi.length === 32 && cmpCanon('binary', hi, max) > 0))) mbad.push(`${c.name} upper ${hi} max ${max}`)
          } else {
            const fmt = x => kind === 'date' ? x : x
            if (lo !== fmt(min)) mbad.push(`${c.name} lower ${lo} min ${min}`)
            if (hi !== fmt(max)) mbad.push(`${c.name} upper ${hi} max ${max}`)
          }
        }
        check(`${name}: ${path.basename(fpath)}: value/null counts and bounds decode to the file's min/max`, mbad.length === 0, mbad.join('; '))
        // (c) DuckDB: field ids in the Parquet schema
        const idBad = present.filter(c => Number(pqcols.find(p => p.name === c.name).field_id) !== c.id)
        check(`${name}: ${path.basename(fpath)}: parquet_schema shows the Iceberg field ids`, idBad.length === 0,
          idBad.map(c => c.name).join(','))
      }
    }
  }
  check(`${name}: avsc decoded ${listsChecked} manifest lists and ${manifestsChecked} manifests`, listsChecked === md.snapshots.length && manifestsChecked > 0)

  // (c) DuckDB: the union of the live files is the table
  const union = []
  for (const e of live) {
    const fpath = uriToPath(e.data_file.file_path)
    const pqcols = await duckRows(`SELECT name FROM parquet_schema('${fpath}') WHERE field_id IS NOT NULL`)
    const present = schema.fields.filter(c => pqcols.some(p => p.name === c.name))
    const rows = await duckRows(`SELECT ${present.map(c => duckExpr(c.name, c.type)).join(', ')} FROM read_parquet('${fpath}')`)
    for (const r of rows) {
      const o = {}
      for (const c of schema.fields) {
        const v = present.includes(c) ? r[c.name] : null
        o[c.name] = v === null ? null : typeOf(c.type).kind === 'float' ? String(Math.fround(v)) : String(v)
      }
      union.push(o)
    }
  }
  sameRows(`${name}: DuckDB over the ${live.length} live data files returns the table's rows`, union, want)
}

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
