'use strict'
// The example of packet-stream's README, on packet-stream-wasm.
const packets = require('..')

const A = packets({
  // handle an ordinary message
  message: function (msg) { console.log('message', msg) },
  // handle a request
  request: function (value, cb) {
    console.log('request', value)
    cb(null, { okay: true })
  },
  // handle a stream
  stream: function (stream) {
    // create an echo server by connecting the stream to itself
    // (these are not normal node streams)
    stream.read = stream.write
  },
  close: function (err) {
    console.log('closed', err)
  }
})

const B = packets({})

// same as A.pipe(B).pipe(A), but simpler to implement internally
A.read = B.write; B.read = A.write

// send a message
B.message('HELLO THERE')

B.request({ foo: 'bar' }, function (err, value) {
  if (err) throw err
  console.log('response', value)
})

const stream = B.stream()
stream.read = function (data, end) {
  if (end) console.log('stream ended', end)
  else console.log('stream data', data)
}
stream.write('open - write to stream')
stream.end()

B.close(function (err) { console.log('B closed', err) })
