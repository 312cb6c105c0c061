/**
 * Backups of a subtree, one facade: the file format (format.ts), export
 * (export.ts), import/copy with rollback (import.ts). Transactions and request
 * sizes are txn.ts's; ACL text is acl.ts's.
 */
export * from './backup/format.js';
export * from './backup/export.js';
export * from './backup/import.js';
export { DEFAULT_TXN_BYTES, type TxnOp } from './txn.js';
