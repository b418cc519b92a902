// local_fetch.mjs - a globalThis.fetch that serves file: URLs from the local disk, for
// readers that only speak fetch (icebird, hyparquet). Node's fetch refuses file: URLs.
// GET answers the whole file or a byte range (Range: bytes=A-B, bytes=A-, bytes=-N) with
// 206 and Content-Range; HEAD answers Content-Length only; a missing file is 404. Other
// URLs go to the real fetch. Usage: import { installLocalFetch } from './local_fetch.mjs';
// const calls = installLocalFetch() (calls counts requests by method, for tests).
import { openSync, readSync, fstatSync, closeSync } from 'node:fs'

// Iceberg writes file names into its URIs literally (a '%' in a partition folder is part
// of the name), so the path is the URI without its scheme, not percent-decoded.
function uriToPath(url) {
  return url.startsWith('file://') ? url.slice('file://'.length) : url.slice('file:'.length)
}

export function installLocalFetch() {
  const realFetch = globalThis.fetch
  const calls = { GET: 0, HEAD: 0, ranged: 0 }
  globalThis.fetch = async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input.url
    if (!url.startsWith('file:')) return realFetch(input, init)
    const method = (init.method || 'GET').toUpperCase()
    calls[method] = (calls[method] || 0) + 1
    let fd
    try {
      fd = openSync(uriToPath(url), 'r')
    } catch {
      return new Response('not found', { status: 404, statusText: 'Not Found' })
    }
    try {
      const size = fstatSync(fd).size
      if (method === 'HEAD') {
        return new Response(null, { status: 200, headers: { 'Content-Length': String(size) } })
      }
      const headers = new Headers(init.headers || {})
      const range = headers.get('Range')
      let start = 0
      let end = size - 1
      let status = 200
      if (range) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
        if (!m || (m[1] === '' && m[2] === '')) return new Response('bad range', { status: 416 })
        if (m[1] === '') { start = Math.max(0, size - Number(m[2])) } else {
          start = Number(m[1])
          if (m[2] !== '') end = Math.min(end, Number(m[2]))
        }
        if (start >= size || start > end) {
          return new Response('range not satisfiable', { status: 416, headers: { 'Content-Range': `bytes */${size}` } })
        }
        status = 206
        calls.ranged++
      }
      const buf = Buffer.alloc(end - start + 1)
      let got = 0
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start + got)
        if (n === 0) break
        got += n
      }
      const h = { 'Content-Length': String(got) }
      if (status === 206) h['Content-Range'] = `bytes ${start}-${start + got - 1}/${size}`
      return new Response(buf.subarray(0, got), { status, headers: h })
    } finally {
      closeSync(fd)
    }
  }
  return calls
}
