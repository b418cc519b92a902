// journal_readers.mjs - system.journal read by two independent readers, for test_journal.sh:
// icebird (the table through its own metadata) and DuckDB (exactly the data files the
// current snapshot's manifests list, decoded with avsc: files a compaction replaced stay on
// disk until snapshots expire, so a glob would count them twice).
// Prints, per reader, "<reader> <entity_id> <rows> <distinct event_id> <distinct seq>" for
// the rows of ENTITY_TYPE, ordered by entity_id.
//   node tests/e2e/journal_readers.mjs TARN_BIN LAKE ENTITY_TYPE      (E2E_NODE_MODULES)
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { decodeAvroFile } from './avro_decode.mjs'
import { installLocalFetch } from './local_fetch.mjs'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const icebird = await import(pathToFileURL(path.join(nm, 'icebird/src/index.js')).href)
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
const [bin, lake, etype] = process.argv.slice(2)
installLocalFetch()
const uriToPath = (u) => u.startsWith('file://') ? u.slice(7) : u
const show = JSON.parse(execFileSync(bin, ['table', 'show', 'system.journal', '--lake', lake, '--log-level', 'warn', '--json'],
  { encoding: 'utf8', maxBuffer: 1 << 28 }).replace(/("(?:snapshot-id|current-snapshot-id)"\s*:\s*)(-?\d+)/g, '$1"$2"'))
const md = show.metadata

function summarize(reader, rows) {
  const by = new Map()
  for (const r of rows) {
    if (r.entity_type !== etype) continue
    let s = by.get(r.entity_id)
    if (!s) by.set(r.entity_id, (s = { n: 0, ids: new Set(), seqs: new Set() }))
    s.n++
    s.ids.add(r.event_id)
    s.seqs.add(String(r.seq))
  }
  for (const e of [...by.keys()].sort()) {
    const s = by.get(e)
    console.log(`${reader} ${e} ${s.n} ${s.ids.size} ${s.seqs.size}`)
  }
}

// icebird, from the metadata file the catalog names
summarize('icebird', await icebird.icebergRead({ tableUrl: show.location, metadataFileName: path.basename(uriToPath(show.metadata_location)) }))

// DuckDB over the live data files
const snap = md.snapshots.find(s => s['snapshot-id'] === md['current-snapshot-id'])
const files = []
for (const mf of (await decodeAvroFile(uriToPath(snap['manifest-list']))).records)
  for (const e of (await decodeAvroFile(uriToPath(mf.manifest_path))).records)
    if (e.status !== 2) files.push(uriToPath(e.data_file.file_path))
const con = await (await DuckDBInstance.create(':memory:')).connect()
const lit = (s) => `'${s.replaceAll("'", "''")}'`
const rows = files.length === 0 ? [] : (await con.runAndReadAll(
  `SELECT entity_type, entity_id, event_id, seq FROM read_parquet([${files.map(lit).join(', ')}])`)).getRowObjectsJS()
summarize('duckdb', rows)
