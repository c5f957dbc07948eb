import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';

const VIEW_AUDIT = 'admin/audit';

export const showAudit = (svc: Services): RequestHandler => async (req, res) => {
  const { items, total, page, pageSize } = await svc.audit.list(res.locals.actor!, req.query.page);
  res.render(VIEW_AUDIT, { entries: items, total, page, pageSize });
};
