// Types of scripts/check-layers.mjs, for the tests that import it.

/** Who may import whom: each module's allowed imports, or null for "anything". */
export type ModuleTable = Record<string, string[] | null>;

/** Where the table lives, relative to the repository root. */
export const TABLE_FILE: string;

/** A table that cannot be read: the message names the line and what is wrong with it. */
export class TableError extends Error {}

/** Parses the module table of `markdown`; throws TableError naming the line of a malformed one. */
export function parseModuleTable(markdown: string, file?: string): ModuleTable;

/** Every broken rule in `root`'s src/, as lines of text (empty when the imports follow the table). */
export function checkLayers(root: string, allowed: ModuleTable): string[];
