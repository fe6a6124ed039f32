'use strict'
// Demo of the C core on its own: a scripted exchange framed by the native
// core (build/ps_cli), read back by packet-stream-codec@1.2.0 and by the
// core itself. Run with `bash build.sh native && node examples/wire-demo.js`
// (`npm run demo` is examples/demo.js, the JS transports).
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const pull = require('pull-stream')
const psc = require('packet-stream-codec')

const cli = path.join(__dirname, '..', 'build', 'ps_cli')
const hex = (s) => Buffer.from(typeof s === 'string' ? s : JSON.stringify(s)).toString('hex')

const script = [
  `message 1 ${hex('hello from C')}`,
  `request 2 ${hex({ name: 'add', args: [1, 2] })}`,
  'stream',
  `write 2 1 ${hex('first item')}`,
  `write 2 0 ${Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('hex')}`,
  `end 2 2 ${hex(true)}`,
  `frame 0 2 -7 ${hex(3)}`,
  'frame 0 0 0 -'
].join('\n') + '\n'

const bytes = execFileSync(cli, ['encode'], { input: script })
console.log(`the C core framed ${bytes.length} bytes:`)
console.log(bytes.toString('hex').replace(/(.{64})/g, '$1\n'))

pull(pull.values([bytes]), psc.decode(), pull.collect((err, msgs) => {
  if (err) throw err
  console.log('\npacket-stream-codec@1.2.0 reads them as:')
  for (const m of msgs) console.log(' ', typeof m === 'string' ? m : JSON.stringify({ req: m.req, stream: m.stream, end: m.end, value: m.value }))
  console.log('\nthe core reads them back, three bytes at a time, as:')
  process.stdout.write(execFileSync(cli, ['decode', '3'], { input: bytes }).toString().replace(/^/gm, '  '))
}))
