/**
 * A ZooKeeper session id as text: "0x" and lower-case hex of the id as an unsigned 64-bit number,
 * as ZooKeeper's own logs and four-letter words print it (`cons` sid=0x..., `dump`). The wire
 * carries it as a signed long: ids made by a server with id 128 or more, and the ephemeralOwner
 * of a TTL node (0xff... | ttl), have the high bit set and are negative as signed.
 */
export function sessionHex(id: bigint): string {
  return `0x${BigInt.asUintN(64, id).toString(16)}`;
}
