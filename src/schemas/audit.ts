import { Type } from 'typebox';
import { QueryInteger, QueryText, queryString } from './common.js';

/** The audit log's filters; dates are checked by parseAuditFilter, which says what it expects. */
export const AuditQuery = queryString({
  actor: Type.Optional(QueryText(255)),
  target: Type.Optional(QueryText(255)),
  action: Type.Optional(QueryText(100)),
  from: Type.Optional(QueryText(32)),
  to: Type.Optional(QueryText(32)),
  before: Type.Optional(QueryInteger(1, Number.MAX_SAFE_INTEGER)),
});
