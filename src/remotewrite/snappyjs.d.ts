// snappyjs ships no types: the two functions tpipe uses.
declare module 'snappyjs' {
  /** Throws when the data is not a valid snappy block or its uncompressed length exceeds maxLength. */
  export function uncompress<T extends Uint8Array | ArrayBuffer>(compressed: T, maxLength?: number): T
  export function compress<T extends Uint8Array | ArrayBuffer>(uncompressed: T): T
}
