/**
 * Minimal jute (ZooKeeper's wire serialization) reader and writer.
 * Hand-written rather than spec-driven: the hot paths (getData, exists,
 * getChildren replies) are parsed without allocation-heavy reflection.
 */

export class JuteWriter {
  private buf: Buffer;
  private off = 0;
  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
  int(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.off);
    this.off += 4;
    return this;
  }
  long(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.off);
    this.off += 8;
    return this;
  }
  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.off++] = v ? 1 : 0;
    return this;
  }
  buffer(v: Buffer | null | undefined): this {
    if (v == null) return this.int(-1);
    this.int(v.length);
    this.ensure(v.length);
    v.copy(this.buf, this.off);
    this.off += v.length;
    return this;
  }
  string(v: string | null | undefined): this {
    if (v == null) return this.int(-1);
    const len = Buffer.byteLength(v);
    this.int(len);
    this.ensure(len);
    this.buf.write(v, this.off, len, 'utf8');
    this.off += len;
    return this;
  }
  strings(v: string[] | null | undefined): this {
    if (v == null) return this.int(-1);
    this.int(v.length);
    for (const s of v) this.string(s);
    return this;
  }
  /** The bytes written, prefixed with their length (a ZooKeeper frame). */
  frame(): Buffer {
    const out = Buffer.allocUnsafe(this.off + 4);
    out.writeInt32BE(this.off, 0);
    this.buf.copy(out, 4, 0, this.off);
    return out;
  }
  get length(): number {
    return this.off;
  }
}

export class JuteReader {
  constructor(
    readonly buf: Buffer,
    public off = 0,
    readonly end = buf.length,
  ) {}
  private need(n: number): void {
    if (this.off + n > this.end) throw new RangeError(`jute: truncated record (need ${n} bytes at ${this.off}, frame ends at ${this.end})`);
  }
  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  long(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.off);
    this.off += 8;
    return v;
  }
  bool(): boolean {
    this.need(1);
    return this.buf[this.off++] !== 0;
  }
  buffer(): Buffer | null {
    const len = this.int();
    if (len < 0) return null;
    this.need(len);
    const v = Buffer.from(this.buf.subarray(this.off, this.off + len));
    this.off += len;
    return v;
  }
  string(): string | null {
    const len = this.int();
    if (len < 0) return null;
    this.need(len);
    const v = this.buf.toString('utf8', this.off, this.off + len);
    this.off += len;
    return v;
  }
  strings(): string[] {
    const n = this.int();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.string() ?? '');
    return out;
  }
  get remaining(): number {
    return this.end - this.off;
  }
}
