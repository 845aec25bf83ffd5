// What sizing a tree yields, for the targets that size an image or volume from it.

/** What a tree needs: its disk usage in bytes (du -B1), and the number of entries if known. */
export interface UsageHint {
  bytes: number;
  inodes?: number;
}
