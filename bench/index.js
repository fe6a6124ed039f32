'use strict'
// npm run bench: every benchmark, each against its peers in the same run.
// Prints the date and the machine, for the README's figures.
const os = require('node:os')

async function main () {
  const quick = process.argv.includes('--quick')
  console.log(`packet-stream-wasm benchmarks, ${new Date().toISOString().slice(0, 10)}, ` +
    `${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}${quick ? ' (quick)' : ''}`)
  await require('./inprocess')({ quick })
  await require('./codec')({ quick })
  await require('./muxrpc')({ quick })
  await require('./worker')({ quick })
  await require('./ws')({ quick })
}

main().catch((err) => { console.error(err); process.exit(1) })
