'use strict'
// The examples run and say what they should.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

test('examples/basic.js: the seed README example works', () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'examples', 'basic.js')]).toString()
  assert.match(out, /message HELLO THERE/)
  assert.match(out, /request \{ foo: 'bar' \}/)
  assert.match(out, /response \{ okay: true \}/)
  assert.match(out, /stream data open - write to stream/)
  assert.match(out, /stream ended true/)
  assert.match(out, /B closed null/)
})
