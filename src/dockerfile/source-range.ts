/**
 * Where a node sits in its Dockerfile: 1-based lines and columns. `endLine` is the last physical
 * line the node covers (continuation lines and heredoc bodies included); `endColumn` is the column
 * just after its last character on that line.
 */
export interface SourceRange {
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}
