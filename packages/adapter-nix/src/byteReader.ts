/**
 * Pull-based reading of exact byte counts from a chunked stream, without buffering more than
 * one chunk ahead. `consumed` counts the bytes handed out.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>
  private chunk: Buffer = Buffer.alloc(0)
  private offset = 0
  consumed = 0

  constructor(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    const asyncSrc = src as AsyncIterable<Uint8Array>
    this.iterator =
      typeof asyncSrc[Symbol.asyncIterator] === 'function'
        ? asyncSrc[Symbol.asyncIterator]()
        : (async function* () {
            yield* src as Iterable<Uint8Array>
          })()
  }

  /** Exactly `n` bytes, or null when the stream ends first. */
  async read(n: number): Promise<Buffer | null> {
    const parts: Buffer[] = []
    let need = n
    while (need > 0) {
      const piece = await this.take(need)
      if (piece === null) return null
      parts.push(piece)
      need -= piece.length
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n)
  }

  /** Up to `max` bytes (at least one), or null at the end of the stream. */
  async take(max: number): Promise<Buffer | null> {
    while (this.offset >= this.chunk.length) {
      const r = await this.iterator.next()
      if (r.done) return null
      const v = r.value
      this.chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
      this.offset = 0
    }
    const end = Math.min(this.chunk.length, this.offset + max)
    const piece = this.chunk.subarray(this.offset, end)
    this.offset = end
    this.consumed += piece.length
    return piece
  }

  async close(): Promise<void> {
    await this.iterator.return?.()
  }
}
