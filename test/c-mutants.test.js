'use strict'
// Every error check of the C core has a test that fails without it: each
// mutant below removes or weakens one check, and the C tests (built with
// ASan+UBSan) must then fail.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const tests = ['main', 'helpers', 'pair', 'test_codec', 'test_framer', 'test_json', 'test_table', 'test_session', 'test_pair', 'test_failmalloc']
  .map((f) => path.join(root, 'test', 'c', f + '.c'))

// [file, the check as written, what the mutant has instead, which occurrence]
const mutants = [
  ['ps_codec.c', 'if (*type == 3) return PS_ERR_BAD_TYPE;', ''],
  ['ps_codec.c', 'if (d->len > max_frame) {', 'if (0) {'],
  ['ps_codec.c', 'if (in[0] == 0 && *len == 0 && r == 0) return 0;', 'if (*len == 0) return 0;'],
  ['ps_codec.c', '&fr->req) <= 0 ||', '&fr->req) < 0 ||'],
  ['ps_codec.c', 'fr->len > max_frame || fr->len > len - pos - PS_HEADER_SIZE)', 'fr->len > len - pos - PS_HEADER_SIZE)'],
  ['ps_codec.c', 'fr->len > max_frame || fr->len > len - pos - PS_HEADER_SIZE)', 'fr->len > max_frame)'],
  ['ps_session.c', 'if (error == 0 && s->mode == PS_MODE_WIRE &&\n      ps_decoder_midframe(&s->decoder)) {', 'if (0) {'],
  ['ps_session.c', '} else if (req == INT32_MIN) {', '} else if (0) {'],
  ['ps_session.c', 'if (slot != PS_NO_SLOT && s->table.slots[slot].kind == PS_KIND_REQ_OUT) {', 'if (slot != PS_NO_SLOT) {'],
  ['ps_session.c', 'if (slot != PS_NO_SLOT && s->table.slots[slot].kind == PS_KIND_STREAM_OUT) {', 'if (slot != PS_NO_SLOT) {'],
  ['ps_session.c', 'if (strict && (rec->flags & PS_SLOT_READ_END)) return PS_EV_STRAY;', ''],
  ['ps_session.c', 'if (!(s->options & PS_OPT_COMPAT) && (rec->flags & PS_SLOT_WRITE_END))\n    return PS_ERR_STREAM_ENDED;', ''],
  ['ps_session.c', 'return fail(s, PS_ERR_PEER_REQUEST_LIMIT);', ';'],
  ['ps_session.c', 'return fail(s, PS_ERR_PEER_STREAM_LIMIT);', ';'],
  ['ps_session.c', 'return PS_ERR_REQUEST_LIMIT;', ';'],
  ['ps_session.c', 'return PS_ERR_STREAM_LIMIT;', ';'],
  ['ps_codec.c', 'if (!fits(e, max_outbuf, len)) return PS_ERR_OUTBUF_LIMIT;', '', 0],
  ['ps_codec.c', 'if (!fits(e, max_outbuf, len)) return PS_ERR_OUTBUF_LIMIT;', '', 1],
  ['ps_codec.c', '!fits(e, max_outbuf, len) ||', ''],
  ['ps_codec.c', 'PS_HEADER_SIZE + len, max_outbuf)', 'PS_HEADER_SIZE + len, UINT32_MAX)', 0],
  ['ps_codec.c', 'e->beside += len;', ';'],
  ['ps_codec.c', 'e->taken = e->out.len;\n  e->beside = 0;', 'e->taken = e->out.len;'],
  ['ps_framer.c', 'if (f->error) return f->error;', ''],
  ['ps_framer.c', 'return PS_ERR_GOODBYE_COLLISION;', ';'],
  ['ps_framer.c', 'if (fr->len && (fr->data < in || fr->data >= in + len)) break;', ''],
  ['ps_framer.c', 'if (len > f->limits.max_frame) return PS_ERR_FRAME_TOO_LARGE;', ''],
  ['ps_framer.c', 'if (type > PS_TYPE_JSON) return PS_ERR_INVALID_ARGUMENT;', ''],
  ['ps_framer.c', 'if (data == NULL && len != 0) return PS_ERR_INVALID_ARGUMENT;', ''],
  ['ps_framer.c', 'int32_t rv = check(f, flags, type, req, len);\n  if (rv < 0) return rv;\n  return ps_encoder_header', 'return ps_encoder_header'],
  ['ps_session.c', 'if (len > s->limits.max_frame) return PS_ERR_FRAME_TOO_LARGE;', ''],
  ['ps_session.c', 'return PS_ERR_GOODBYE_COLLISION;', ';'],
  ['ps_session.c', 'if (rec == NULL || rec->kind != PS_KIND_REQ_IN)', 'if (rec == NULL)'],
  ['ps_session.c', 'if (s->state & PS_STATE_CLOSED) return PS_ERR_CLOSED;\n  if (s->mode', 'if (s->mode'],
  ['ps_session.c', 'return !(s->state & (PS_STATE_ENDED | PS_STATE_CLOSED));', 'return 1;'],
  ['ps_session.c', 'if (s->state & PS_STATE_CLOSING) return PS_ERR_CLOSING;', '', 0],
  ['ps_session.c', 'if (s->state & PS_STATE_CLOSING) return PS_ERR_CLOSING;', '', 1],
  ['ps_session.c', 'if (s->fatal) return s->fatal;\n  if (in == NULL', 'if (in == NULL'],
  ['ps_json.c', 'if (depth < 0 || ((k & COMMA) && depth == 0)) return 0;', 'if ((k & COMMA) && depth == 0) return 0;'],
  ['ps_json.c', 'if (depth < 0 || ((k & COMMA) && depth == 0)) return 0;', 'if (depth < 0) return 0;'],
  ['ps_json.c', 'if (i >= len) return 0;', 'if (i >= len) break;'],
  ['ps_json.c', 'return !spaces && depth == 0;', 'return depth == 0;'],
  ['ps_json.c', "if (c == '\\\\' && i < len) {", 'if (0) {'],
  ['ps_json.c', 'fr->len > max_body ||', ''],
  ['ps_json.c', 'if (bodies < 2) {', 'if (bodies < 1) {'],
  ['ps_table.c', 'if (((j - home) & mask) >= ((j - i) & mask)) {', 'if (1) {'],
  ['ps_session.c', 'static void hold_slot(ps_session *s, uint32_t slot) {\n  ps_table_unlink(&s->table, slot);\n  s->held_slot = slot;', 'static void hold_slot(ps_session *s, uint32_t slot) {\n  ps_table_remove(&s->table, slot);'],
  ['ps_session.c', 'if (s->has_event && s->event.slot == slot)\n    hold_slot', 'if (0)\n    hold_slot'],
  ['ps_framer.c', 'if ((uint64_t)ps_encoder_pending(&f->encoder) + f->encoder.beside >\n      f->limits.max_outbuf)\n    return PS_ERR_OUTBUF_LIMIT;', ''],
  ['ps_framer.c', ' + f->encoder.beside >', ' >'],
  ['ps_codec.c', 'if (n > e->taken) return PS_ERR_INVALID_ARGUMENT;', ''],
  ['ps_codec.c', 'e->taken = n;', ';'],
  ['ps_codec.c', 'e->out.cap > PS_KEEP_OUTPUT', '0'],
  ['ps_codec.c', 'settle(e, a);\n  *out', 'compact(e);\n  *out'],
  ['ps_codec.c', 'if (d->state != PS_DEC_BODY || d->len < min_len) return 0;', 'if (d->state != PS_DEC_BODY) return 0;'],
  ['ps_codec.c', 'emit(d, frame, d->body.data);\n  return 1;', 'return 1;'],
  ['ps_framer.c', 'ps_decoder_trim(&f->decoder, &f->alloc);', ''],
  ['ps_codec.c', 'if (inside)\n    compact(e);\n  else\n    settle(e, a);', 'settle(e, a);'],
  ['ps_codec.c', 'if (!e->placed && e->taken == e->out.len', 'if (e->taken == e->out.len']
]

function replaceNth (text, from, to, nth = 0) {
  let at = -1
  for (let k = 0; k <= nth; k++) {
    at = text.indexOf(from, at + 1)
    if (at < 0) return null
  }
  return text.slice(0, at) + to + text.slice(at + from.length)
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-mutants-'))
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
const CFLAGS = ['-std=c99', '-g', '-O1', '-w', '-fsanitize=address,undefined', '-fno-sanitize-recover=all']
const coreSources = fs.readdirSync(path.join(root, 'c')).filter((f) => f.endsWith('.c'))

// The tests and the untouched core are compiled once; a mutant recompiles
// only its own file. The tests include c/*.h, and only .c files are mutated.
let objects
function compileOnce () {
  if (!objects) {
    objects = [...tests, ...coreSources.map((f) => path.join(root, 'c', f))].map((src) => {
      const obj = path.join(tmp, path.basename(src) + '.o')
      execFileSync('clang', [...CFLAGS, '-c', src, '-o', obj])
      return obj
    })
  }
  return objects
}

function run (name, file, text) {
  const exe = path.join(tmp, name)
  let objs = compileOnce()
  if (file) {
    const src = path.join(tmp, `${name}-${file}`)
    fs.writeFileSync(src, text)
    execFileSync('clang', [...CFLAGS, `-I${path.join(root, 'c')}`, '-c', src, '-o', src + '.obj'])
    objs = objs.filter((o) => path.basename(o) !== file + '.o').concat(src + '.obj')
  }
  execFileSync('clang', [...CFLAGS, ...objs, '-o', exe])
  return spawnSync(exe, [], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', PS_TEST_FAILFAST: '1' }
  })
}

test('the unmutated core passes', () => {
  const r = run('original')
  assert.equal(r.status, 0, r.stderr.slice(-2000))
})

mutants.forEach(([file, from, to, nth], i) => {
  test(`mutant ${i + 1}: ${file}: ${from.split('\n')[0]} (${nth ?? 0})`, () => {
    const source = fs.readFileSync(path.join(root, 'c', file), 'utf8')
    const mutated = replaceNth(source, from, to, nth)
    assert.ok(mutated, 'the check is still written this way in c/' + file)
    const r = run(`m${i}`, file, mutated)
    assert.notEqual(r.status, 0, 'the C tests still pass without this check')
  })
})
