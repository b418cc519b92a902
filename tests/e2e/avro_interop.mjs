// avro_interop.mjs - Avro interop with independent readers and writers: avsc and icebird
// check the files tarn writes, and avsc writes files for tarn to read.
//   node avro_interop.mjs write DIR   writes avsc_null.avro, avsc_deflate.avro, avsc_bigint.avro
//   node avro_interop.mjs check DIR   checks the tarn_*.avro files test_avro wrote into DIR
// The values are computed from the same formulas as tests/unit/test_avro.c.
import { once } from 'node:events'
import { createWriteStream, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { BigLong, decodeAvroFile } from './avro_decode.mjs'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const require = createRequire(import.meta.url)
const avro = require(path.join(nm, 'avsc'))
const icebird = await import(pathToFileURL(path.join(nm, 'icebird/src/index.js')).href)

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
}

// Plain, comparable form: Buffers and Uint8Arrays as hex, BigInts as strings, -0 kept.
function plain(v) {
  if (v === null || v === undefined) return null
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : v
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `hex:${Buffer.from(v).toString('hex')}`
  if (v instanceof Date) return `date:${v.getTime()}`
  if (Array.isArray(v)) return v.map(plain)
  if (typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = plain(v[k])
    return o
  }
  return v
}
function same(a, b) {
  return JSON.stringify(plain(a)) === JSON.stringify(plain(b))
}
function firstDiff(a, b) {
  const x = JSON.stringify(plain(a))
  const y = JSON.stringify(plain(b))
  let i = 0
  while (i < x.length && x[i] === y[i]) i++
  return `got ...${x.slice(Math.max(0, i - 60), i + 60)}... want ...${y.slice(Math.max(0, i - 60), i + 60)}...`
}

const decodeFile = decodeAvroFile

// ---- the formulas shared with test_avro.c ----

const SNAP_ID = 3051729675574597004n
const CATS = ['cat-0', 'cat-1', 'κατηγορία-é']
const SUITS = ['SPADES', 'HEARTS', 'DIAMONDS', 'CLUBS']
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function le64(v) {
  const b = Buffer.alloc(8)
  b.writeBigInt64LE(BigInt(v))
  return b
}

function manifestEntry(i) {
  const kv = (a, b) => [{ key: 1, value: a }, { key: 2, value: b }]
  return {
    status: 1,
    snapshot_id: SNAP_ID,
    sequence_number: i % 2 ? BigInt(i) : null,
    file_sequence_number: null,
    data_file: {
      content: 0,
      file_path: `s3://bucket/db/t/data/part-${i}.parquet`,
      file_format: 'PARQUET',
      partition: { ts_day: i % 10 === 9 ? null : 19700 + (i % 7), category: i % 5 === 4 ? null : CATS[i % 3] },
      record_count: BigInt(1000 + i),
      file_size_in_bytes: BigInt(4096 + i * 17),
      column_sizes: kv(BigInt(100 + i), BigInt(200 + i)),
      value_counts: kv(BigInt(1000 + i), BigInt(1000 + i)),
      null_value_counts: kv(0n, BigInt(i % 4)),
      nan_value_counts: null,
      lower_bounds: kv(le64(i), Buffer.from('a')),
      upper_bounds: kv(le64(i + 1000), Buffer.from([0x7a, 0xff])),
      key_metadata: null,
      split_offsets: [4n, BigInt(4 + i * 10)],
      equality_ids: null,
      sort_order_id: 0,
      referenced_data_file: null,
    },
  }
}

function manifestFile(i) {
  return {
    manifest_path: `s3://bucket/db/t/metadata/m${i}.avro`,
    manifest_length: BigInt(5000 + i),
    partition_spec_id: 0,
    content: 0,
    sequence_number: BigInt(i + 1),
    min_sequence_number: 1n,
    added_snapshot_id: SNAP_ID + BigInt(i),
    added_files_count: 10 * i,
    existing_files_count: 0,
    deleted_files_count: 0,
    added_rows_count: BigInt(1000 * i),
    existing_rows_count: 0n,
    deleted_rows_count: 0n,
    partitions: i < 2 ? [
      { contains_null: false, contains_nan: null, lower_bound: Buffer.from([0x34, 0x4d, 0, 0]), upper_bound: Buffer.from([0x3a, 0x4d, 0, 0]) },
      { contains_null: true, contains_nan: false, lower_bound: Buffer.from('cat-0'), upper_bound: Buffer.from('cat-2') },
    ] : null,
    key_metadata: null,
  }
}

function allTypes(k) {
  const ints = [-(2 ** 31), 2 ** 31 - 1, 0, -1, 1]
  const longs = [INT64_MIN, INT64_MAX, 0n, -1n, 2n ** 53n + 1n]
  const strs = ['', 'héllo wörld ✓ 𝄞', 'a\0b', 'plain', '"quoted\\"']
  const fl = [1.5, -0, Math.fround(3.4e38), Math.fround(1e-45), NaN]
  const db = [-2.25, Infinity, 1e-300, -Infinity, 0.1]
  const inner = { x: k * 100, tags: ['t1', 't2'].slice(0, k % 3) }
  return {
    n: null,
    b: k % 2 === 1,
    i: ints[k],
    l: longs[k],
    f: fl[k],
    d: db[k],
    by: Buffer.from([...Array(k % 5).keys()].map(j => 255 - k - j)),
    s: strs[k],
    e: SUITS[k % 4],
    fx: Buffer.from([...Array(16).keys()].map(j => k * 16 + j)),
    arr: k === 2 ? [] : [BigInt(k), INT64_MIN + BigInt(k), INT64_MAX - BigInt(k)],
    m: k === 3 ? {} : { one: 1 + k, 'zwei ü': -2 - k },
    u: k % 3 === 0 ? null : k % 3 === 1 ? 'union string' : -12345678901n,
    nested: inner,
    opt_rec: k % 2 ? inner : null,
    dec: Buffer.from([1, 2]),
    uuid: 'f79c3e09-677c-4d5c-a29d-2b1fae1e3a2a',
    // avsc's long registry does not reach longs written as objects (with a logicalType):
    // these come back as numbers.
    ts: 1700000000123456 + k,
    date: 19723 + k,
    time: 86399999999 - k,
  }
}

// The all-types schema; the same text is ALL_TYPES_SCHEMA in test_avro.c.
const ALL_TYPES_SCHEMA = {
  type: 'record', name: 'all_types', namespace: 'tarn.test', doc: 'every Avro type', fields: [
    { name: 'n', type: 'null', 'field-id': 1 },
    { name: 'b', type: 'boolean', 'field-id': 2 },
    { name: 'i', type: 'int', 'field-id': 3 },
    { name: 'l', type: 'long', 'field-id': 4 },
    { name: 'f', type: 'float', 'field-id': 5 },
    { name: 'd', type: 'double', 'field-id': 6 },
    { name: 'by', type: 'bytes', 'field-id': 7 },
    { name: 's', type: 'string', 'field-id': 8 },
    { name: 'e', type: { type: 'enum', name: 'Suit', symbols: SUITS }, 'field-id': 9 },
    { name: 'fx', type: { type: 'fixed', name: 'md5', size: 16 }, 'field-id': 10 },
    { name: 'arr', type: { type: 'array', items: 'long', 'element-id': 12 }, 'field-id': 11 },
    { name: 'm', type: { type: 'map', values: 'int', 'key-id': 14, 'value-id': 15 }, 'field-id': 13 },
    { name: 'u', type: ['null', 'string', 'long'], 'field-id': 16 },
    { name: 'nested', type: { type: 'record', name: 'inner', fields: [
      { name: 'x', type: 'int', 'field-id': 18 },
      { name: 'tags', type: { type: 'array', items: 'string', 'element-id': 20 }, 'field-id': 19 }] }, 'field-id': 17 },
    { name: 'opt_rec', type: ['null', 'inner'], default: null, 'field-id': 21 },
    { name: 'dec', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 }, 'field-id': 22 },
    { name: 'uuid', type: { type: 'string', logicalType: 'uuid' }, 'field-id': 23 },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-micros' }, 'field-id': 24 },
    { name: 'date', type: { type: 'int', logicalType: 'date' }, 'field-id': 25 },
    { name: 'time', type: { type: 'long', logicalType: 'time-micros' }, 'field-id': 26 },
  ],
}

// Record i of the files avsc writes for tarn (check_avsc_record in test_avro.c).
function avscRecord(i) {
  return {
    n: null,
    b: i % 2 === 1,
    i: i * 7919 - 1000000,
    l: i * 1000000000000 - 7,
    f: i + 0.5,
    d: i / 3,
    by: Buffer.from([i % 256, (i * 7) % 256]),
    s: `str-${i}${i % 2 ? '-ü' : ''}`,
    e: SUITS[i % 4],
    fx: Buffer.from([...Array(16).keys()].map(k => (i + k) % 256)),
    arr: [i, -i, i * 1000],
    m: i % 3 === 0 ? {} : { a: i, b: -i },
    u: i % 3 === 0 ? null : i % 3 === 1 ? `u${i}` : i * 3,
    nested: { x: i, tags: [`t${i}`] },
    opt_rec: i % 2 ? { x: -i, tags: [] } : null,
    dec: Buffer.from([1, i % 256]),
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    ts: 1700000000000000 + i,
    date: 19000 + i,
    time: i * 1000,
  }
}

// ---- write: files for tarn to read ----

async function writeFile(file, schemaOrType, opts, records) {
  const enc = new avro.streams.BlockEncoder(schemaOrType, opts)
  const out = createWriteStream(file)
  enc.pipe(out)
  for (const r of records) enc.write(r)
  enc.end()
  await once(out, 'finish')
}

async function write(dir) {
  const records = [...Array(300).keys()].map(avscRecord)
  const metadata = { 'written-by': Buffer.from('avsc') }
  // The plain schema object, not a compiled type: avsc then keeps field-id in the header.
  await writeFile(path.join(dir, 'avsc_null.avro'), ALL_TYPES_SCHEMA, { codec: 'null', blockSize: 1024, metadata }, records)
  await writeFile(path.join(dir, 'avsc_deflate.avro'), ALL_TYPES_SCHEMA, { codec: 'deflate', blockSize: 1024, metadata }, records)
  const bigType = avro.Type.forSchema({
    type: 'record', name: 'big', fields: [{ name: 'big', type: 'long' }, { name: 'neg', type: 'long' }],
  }, { registry: { long: BigLong } })
  const bigs = [INT64_MIN, INT64_MAX, -1n, 0n].map(v => ({ big: v, neg: -(v / 2n) }))
  await writeFile(path.join(dir, 'avsc_bigint.avro'), bigType, { codec: 'deflate' }, bigs)
  console.log(`avsc wrote avsc_null.avro, avsc_deflate.avro (300 records each) and avsc_bigint.avro in ${dir}`)
}

// ---- check: tarn's files with avsc and icebird ----

// Every record field carries an integer field-id; arrays element-id; maps key-id/value-id.
function idsOf(schema, out = { fields: 0, missing: [], elementIds: [], keyIds: [], valueIds: [] }) {
  if (Array.isArray(schema)) {
    for (const b of schema) idsOf(b, out)
  } else if (schema && typeof schema === 'object') {
    if (schema.type === 'record') {
      for (const f of schema.fields) {
        out.fields++
        if (!Number.isInteger(f['field-id'])) out.missing.push(f.name)
        idsOf(f.type, out)
      }
    } else if (schema.type === 'array') {
      if ('element-id' in schema) out.elementIds.push(schema['element-id'])
      idsOf(schema.items, out)
    } else if (schema.type === 'map') {
      out.keyIds.push(schema['key-id'])
      out.valueIds.push(schema['value-id'])
      idsOf(schema.values, out)
    }
  }
  return out
}

function checkHeaderSchema(name, meta, dir, base) {
  const text = readFileSync(path.join(dir, `${base}.schema.json`), 'utf8')
  check(`${name}: avro.schema in the header is the schema text verbatim`, meta['avro.schema'] === text)
  return JSON.parse(meta['avro.schema'])
}

async function checkManifest(dir) {
  const file = path.join(dir, 'tarn_manifest.avro')
  const { records, meta } = await decodeFile(file)
  const schema = checkHeaderSchema('manifest', meta, dir, 'tarn_manifest')
  const ids = idsOf(schema)
  check('manifest: every field keeps its field-id', ids.missing.length === 0 && ids.fields === 36,
    `missing ${ids.missing} of ${ids.fields}`)
  check('manifest: element-id of split_offsets and equality_ids', same(ids.elementIds.filter(x => x > 130), [133, 136]),
    JSON.stringify(ids.elementIds))
  const lb = schema.fields[4].type.fields.find(f => f.name === 'lower_bounds')
  check('manifest: lower_bounds is an array of k/v records with logicalType map and ids 126/127',
    lb['field-id'] === 125 && lb.type[1].logicalType === 'map' &&
    lb.type[1].items.fields[0]['field-id'] === 126 && lb.type[1].items.fields[1]['field-id'] === 127)
  check('manifest: doc attributes survive', schema.fields[4].type.fields[0].doc.startsWith('Contents of the file'))
  check('manifest: metadata format-version, content, partition-spec-id, schema-id',
    meta['format-version'] === '2' && meta.content === 'data' && meta['partition-spec-id'] === '0' && meta['schema-id'] === '0')
  check('manifest: metadata partition-spec and schema are JSON',
    JSON.parse(meta['partition-spec'])[0]['field-id'] === 1000 && JSON.parse(meta.schema).fields.length === 2)
  check('manifest: codec null', meta['avro.codec'] === 'null')
  check('manifest: avsc reads 500 entries', records.length === 500, `${records.length}`)
  let bad = -1
  for (let i = 0; i < records.length; i++) if (!same(records[i], manifestEntry(i))) { bad = i; break }
  check('manifest: avsc sees every entry value as written', bad < 0, bad >= 0 ? `entry ${bad}: ${firstDiff(records[bad], manifestEntry(bad))}` : '')
}

async function checkManifestList(dir) {
  const file = path.join(dir, 'tarn_manifest_list.avro')
  const { records, meta } = await decodeFile(file)
  const schema = checkHeaderSchema('manifest list', meta, dir, 'tarn_manifest_list')
  const ids = idsOf(schema)
  check('manifest list: every field keeps its field-id', ids.missing.length === 0 && ids.fields === 19,
    `missing ${ids.missing} of ${ids.fields}`)
  check('manifest list: partitions element-id 508', same(ids.elementIds, [508]))
  check('manifest list: metadata', meta['snapshot-id'] === '3051729675574597004' &&
    meta['parent-snapshot-id'] === '3051729675574597003' && meta['sequence-number'] === '3' &&
    meta['format-version'] === '2' && meta['avro.codec'] === 'deflate')
  check('manifest list: avsc reads 3 manifests', records.length === 3)
  let bad = -1
  for (let i = 0; i < records.length; i++) if (!same(records[i], manifestFile(i))) { bad = i; break }
  check('manifest list: avsc sees every value as written', bad < 0, bad >= 0 ? firstDiff(records[bad], manifestFile(bad)) : '')
}

async function checkAllTypes(dir) {
  const file = path.join(dir, 'tarn_all_types.avro')
  const { records, meta } = await decodeFile(file)
  const schema = checkHeaderSchema('all types', meta, dir, 'tarn_all_types')
  const ids = idsOf(schema)
  check('all types: schema in the header equals the one avsc writes from', same(schema, ALL_TYPES_SCHEMA))
  check('all types: field-id, element-id, key-id, value-id survive', ids.missing.length === 0 &&
    same(ids.elementIds, [12, 20]) && same(ids.keyIds, [14]) && same(ids.valueIds, [15]))
  check('all types: metadata and codec', meta['written-by'] === 'tarn' && meta['avro.codec'] === 'deflate')
  check('all types: avsc reads 5 records', records.length === 5)
  for (let k = 0; k < records.length; k++) {
    check(`all types: record ${k} as written`, same(records[k], allTypes(k)), firstDiff(records[k], allTypes(k)))
  }
}

// icebird reads through fetch, which refuses file: URLs: serve local files instead. Every
// manifest path of the list (s3://bucket/db/t/metadata/mN.avro) is served tarn_manifest.avro.
function installFetch(dir) {
  globalThis.fetch = async url => {
    const u = new URL(url)
    let file = u.protocol === 'file:' ? u.pathname : null
    if (/\/m\d+\.avro$/.test(u.pathname)) file = path.join(dir, 'tarn_manifest.avro')
    if (!file) return new Response('not found', { status: 404 })
    return new Response(readFileSync(file))
  }
}

async function checkIcebird(dir) {
  installFetch(dir)
  // The manifest list, read by icebird's own Avro reader.
  const buf = readFileSync(path.join(dir, 'tarn_manifest_list.avro'))
  const reader = { view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength), offset: 0 }
  const { metadata, syncMarker } = icebird.avroMetadata(reader)
  const list = icebird.avroRead({ reader, metadata, syncMarker })
  check('icebird: reads the manifest list (deflate)', list.length === 3 &&
    list[1].manifest_path === 's3://bucket/db/t/metadata/m1.avro' && list[1].added_snapshot_id === SNAP_ID + 1n &&
    list[0].partitions[1].contains_null === true && list[0].partitions[1].contains_nan === false &&
    list[0].partitions[0].contains_nan === undefined && list[2].partitions === undefined &&
    same(list[0].partitions[1].upper_bound, Buffer.from('cat-2')), JSON.stringify(plain(list[1])))
  check('icebird: header field-ids', metadata['avro.schema'].fields[0]['field-id'] === 500)
  // The manifests, through icebird's manifest code (sequence number inheritance included).
  const tableMeta = {
    'format-version': 2,
    'current-snapshot-id': 1,
    snapshots: [{ 'snapshot-id': 1, 'sequence-number': 3, 'manifest-list': pathToFileURL(path.join(dir, 'tarn_manifest_list.avro')).href }],
  }
  const manifests = await icebird.icebergManifests(tableMeta)
  check('icebird: icebergManifests finds 3 manifests of 500 entries', manifests.length === 3 &&
    manifests.every(m => m.entries.length === 500))
  let bad = ''
  for (let m = 0; m < manifests.length && !bad; m++) {
    const entries = manifests[m].entries
    for (let i = 0; i < entries.length && !bad; i++) {
      const e = entries[i]
      const df = e.data_file
      const want = manifestEntry(i)
      const day = want.data_file.partition.ts_day
      const gotDay = df.partition.ts_day
      if (e.status !== 1 || e.snapshot_id !== SNAP_ID) bad = `entry ${i}: status/snapshot`
      else if (e.sequence_number !== (i % 2 ? BigInt(i) : BigInt(m + 1))) bad = `entry ${i}: sequence_number ${e.sequence_number}`
      else if (df.file_path !== want.data_file.file_path || df.record_count !== want.data_file.record_count) bad = `entry ${i}: file`
      else if (day === null ? gotDay !== undefined : !(gotDay instanceof Date) || gotDay.getTime() !== day * 86400000) bad = `entry ${i}: ts_day ${gotDay}`
      else if ((df.partition.category ?? null) !== want.data_file.partition.category) bad = `entry ${i}: category`
      else if (!same(df.lower_bounds, want.data_file.lower_bounds) || !same(df.split_offsets, want.data_file.split_offsets)) bad = `entry ${i}: stats`
      else if (df.nan_value_counts !== undefined || df.key_metadata !== undefined) bad = `entry ${i}: nulls`
    }
  }
  check('icebird: every entry of every manifest as written (dates, inherited sequence numbers)', !bad, bad)
}

const [mode, dir] = process.argv.slice(2)
if (mode === 'write') {
  await write(dir)
} else if (mode === 'check') {
  await checkManifestList(dir)
  await checkManifest(dir)
  await checkAllTypes(dir)
  await checkIcebird(dir)
} else {
  console.error('usage: node avro_interop.mjs write|check DIR')
  process.exit(2)
}
if (mode === 'check') console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
