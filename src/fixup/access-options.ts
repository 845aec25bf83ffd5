// What the access stage is asked to do (root's password, keys, Dom0 accounts), apart from the stage
// so that the fixup context can name it without importing the stage.

export type RootPassword =
  | { kind: 'plain'; password: string }
  | { kind: 'file'; path: string }
  | { kind: 'generate'; length?: number }
  | { kind: 'hash'; hash: string };

export interface AccessOptions {
  /** Root's password (--password, --password-file, --genpass, --passwd-hash). A 'generate' must go
   *  through prepareAccess() first, so that the caller holds the password to show it once. */
  rootPassword?: RootPassword;
  /** Files of ssh public keys for root's authorized_keys (--authorized-keys, repeatable). */
  authorizedKeysFiles?: string[];
  /** Copy the Dom0's non-system accounts (--accounts). */
  accounts?: boolean;
  /** Where the Dom0's /etc/passwd, shadow, group and gshadow are read (default "/"; tests use a tree). */
  accountsFrom?: string;
}
