// The actions the audit log records, by name: the API and the CLI accept these or the part after the dot.

/** Every action an audit entry may carry. */
export const AUDIT_ACTIONS = [
  'mirror.add',
  'mirror.update',
  'mirror.delete',
  'mirror.restore',
  'mirror.drain',
  'mirror.undrain',
  'mirror.launch',
  'mirror.activate',
  'mirror.probe',
  'mirror.scan',
  'mirror.logo',
  'offer.create',
  'offer.accept',
  'offer.reject',
  'token.issue',
  'token.revoke',
  'token.scope',
] as const;
