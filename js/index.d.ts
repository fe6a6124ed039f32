// Types for packet-stream-wasm: the packet-stream@2.0.6 API.
// CommonJS (`require`) and ES modules (`import packets, { ready } from`).

declare function packets (opts: packets.Handlers): packets.PacketStream

declare namespace packets {
  /** A packet as it travels between two sessions in object mode. */
  interface Packet {
    req: number
    stream?: boolean
    end?: boolean
    value?: unknown
  }

  /** An error as it travels in-band: flattened by the sender. */
  interface FlatError {
    message: string
    name: string
    stack: string | null
  }

  type Callback<T = unknown> = (err: any, value?: T) => void

  /** Limits of a session; a peer exceeding one destroys the session. Each is an integer from 1 (a
   *  RangeError otherwise): maxFrame and maxOutbuf up to 2,147,483,632, maxRequests + maxStreams up to 4,194,303. */
  interface Limits {
    /** largest body in bytes (default 16 MiB); like maxOutbuf, checked where packets are framed (the
     *  transports, the codec), not between two sessions wired in memory */
    maxFrame?: number
    /** open requests in each direction (default 1,048,576) */
    maxRequests?: number
    /** open substreams in each direction (default 1,048,576) */
    maxStreams?: number
    /** framed bytes not yet handed to the transport (default 64 MiB) */
    maxOutbuf?: number
  }

  interface Handlers {
    /** a message (req 0) from the peer (may be async: a rejection is reported) */
    message?: (value: any) => void | Promise<void>
    /** a request from the peer; call cb exactly once (may be async: a rejection before cb answers with it) */
    request?: (value: any, cb: Callback) => void | Promise<void>
    /** a substream the peer opened; assign its `read` or iterate it (may be async: a rejection ends it with the error) */
    stream?: (stream: Substream) => void | Promise<void>
    /** the session closed: null/undefined when cleanly, else the error */
    close?: (err: any) => void
    limits?: Limits
  }

  /** packet-stream's "weird stream": assign `read`, call `write`. */
  interface Substream {
    readonly id: number
    /** receives the peer's data; a truthy `end` ends it (its value is the end) */
    read: ((data: any, end?: any) => void) | null
    readEnd: true | null
    writeEnd: any
    /** sends data, or with a truthy `end` the end of our side */
    write (data: any, end?: any): void
    end (err?: any): void
    destroy (err?: any): void
    /** reads the peer's data (takes over `read`, and what arrived before); an error end, or the
     *  session's end, is thrown once; leaving early ends our side and drops what the peer still
     *  sends until its end (a close() waits for that end), and what is written after; taken after
     *  the end or a loop left early, it is done at once (or throws the error that ended it); a
     *  second one while one reads throws */
    [Symbol.asyncIterator] (): AsyncIterator<any>
  }

  interface PacketStream {
    /** false while open; set by destroy() and by the peer's end (true, or the error; undefined after
     *  destroy() with no argument); a graceful close leaves it false, as in 2.0.6 */
    ended: any
    /** the handlers given to packets(); null once closed */
    opts: Handlers | null
    /** sends packets to the peer: assign it (e.g. `a.read = b.write`) */
    read: (msg: Packet | null, end?: any) => void
    /** takes packets from the peer (bound: can be passed around) */
    write: (msg: Packet | null, end?: any) => void
    /** over a transport, a value that cannot be sent (not JSON-encodable, over maxFrame) throws
     *  (err.code errors.ERR_INVALID_ARGUMENT or errors.ERR_FRAME_TOO_LARGE); a request with one
     *  fails with that error, a substream write throws; the session goes on */
    message (value: any): void
    request (value: any, cb: Callback): void
    /** without a callback: a promise of the response (error responses, and the session's end, reject with an Error) */
    request (value: any): Promise<any>
    stream (): Substream
    /** closes once every request and substream we opened has finished */
    close (cb: (err?: any) => void): void
    /** ends now: everything open hears `err`; with `true`, "unexpected end of parent stream"; with
     *  no argument, callbacks hear `undefined` (as in 2.0.6) and promises reject with that message */
    destroy (err?: any): void
    /** bytes the C core holds for this session */
    readonly coreMemory: number
  }

  /** A session over a transport (connectStream, connectWebSocket, connectPort). */
  interface WireStream extends PacketStream {
    /** false while the transport is backed up */
    readonly writable: boolean
    /** resolves once the transport has room again; rejects with the session's end (an Error) once it has ended, at once if it had, so that a producer's loop stops */
    drained (): Promise<void>
    /** called when the transport has room again */
    ondrain: (() => void) | null
    /** bytes framed and not yet handed to the transport */
    readonly pendingBytes: number
  }

  interface WireOptions extends Handlers {
    /** connectWebSocket: bytes the socket may buffer before `writable` turns false (default 1 MiB) */
    highWaterMark?: number
    /** connectStream: ms without progress (nothing written, the stream not closed) after the session's end before the stream is destroyed (default 30000; Infinity: never) */
    closeTimeout?: number
  }

  /** a packet stream over a Node byte stream (net.Socket, TLS, any Duplex, or { readable, writable }) */
  function connectStream (duplex: any, opts?: WireOptions): WireStream
  /** a packet stream over a WebSocket (browser or `ws`), before or after it opened */
  function connectWebSocket (socket: any, opts?: WireOptions): WireStream
  /** a packet stream over postMessage: Worker, MessagePort, a worker's `self`, worker_threads */
  function connectPort (port: any, opts?: WireOptions): WireStream

  interface PullDuplex { source: (abort: any, cb: (end: any, data?: any) => void) => void, sink: (read: any) => void }
  type Through = (read: any) => (abort: any, cb: (end: any, data?: any) => void) => void
  interface CodecLimits { maxFrame?: number, maxOutbuf?: number }

  /** A packet of the wire format, as the codec hands it out. */
  interface WirePacket { req: number, stream: boolean, end: boolean, value: any }

  /** Incremental framing through the C core: `new codec.Framer(limits, opts)`. */
  interface Framer {
    /** the limits it was made with (defaults filled in) */
    readonly maxFrame: number
    readonly maxOutbuf: number
    readonly pending: number
    readonly memory: number
    readonly midframe: boolean
    error: Error | null
    encode (packet: Packet | 'GOODBYE'): void
    /** everything framed since the last take, as one buffer that owns its ArrayBuffer */
    take (): Uint8Array | null
    /** the same as a list of chunks: framed bytes, and bodies passed on as given */
    takeChunks (): Uint8Array[] | null
    /** calls onpacket with each packet, or pushes them onto it if it is an array; a binary value
     *  that lies whole in `chunk` and is at least 1/64 of it is a view of `chunk` (do not reuse it);
     *  `from` and `to` decode only bytes [from, to) of `chunk`, the rest in later calls */
    decode (chunk: Uint8Array, onpacket: ((p: WirePacket | 'GOODBYE') => void) | Array<WirePacket | 'GOODBYE'>, from?: number, to?: number): Error | null
    free (): void
  }

  /** drop-in for packet-stream-codec@1.2.0 */
  const codec: {
    (duplex: PullDuplex, limits?: CodecLimits): PullDuplex
    encode (limits?: CodecLimits): Through
    decode (limits?: CodecLimits): Through
    /** packet-stream-codec's: one packet framed as [9-byte header, body], the body null for the goodbye */
    encodePair (packet: Packet | 'GOODBYE'): [Uint8Array, Uint8Array | null]
    /** packet-stream-codec's: a 9-byte header read (value null), with the body's length and type */
    decodeHead (header: Uint8Array): WirePacket & { length: number, type: number }
    /** packet-stream-codec's: sets head.value from the body that follows the header */
    decodeBody (body: Uint8Array, head: WirePacket & { length: number, type: number }): WirePacket & { length: number, type: number }
    encodePackets (packets: Iterable<Packet | 'GOODBYE'>, limits?: CodecLimits): Uint8Array
    /** binary values may be views of `bytes`, as in Framer.decode */
    decodePackets (bytes: Uint8Array, limits?: CodecLimits): Array<WirePacket | 'GOODBYE'>
    /** passBodies: binary bodies of 8 KiB or more are held and passed on as given (not copied), as packet-stream-codec does */
    Framer: new (limits?: CodecLimits, opts?: { passBodies?: boolean }) => Framer
    GOODBYE: 'GOODBYE'
  }

  /** settles once the WebAssembly core is loaded (at once where synchronous compiles are allowed) */
  const ready: Promise<typeof packets>
  /** log what the reference logs after close, and more: `packets.debug = true` (the switch is on the default
   *  export; a named import of `debug` reads it) */
  let debug: boolean
  /** err.code of the core's errors, by name: ERR_INVALID_ARGUMENT -501, ERR_FRAME_TOO_LARGE -506, ERR_OUTBUF_LIMIT -907, ... */
  const errors: Readonly<Record<string, number>>
  const PacketStream: new (opts: Handlers) => PacketStream
}

export = packets
