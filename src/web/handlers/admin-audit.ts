import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';

const VIEW_AUDIT = 'admin/audit';
const PAGE_SIZE = 100;

export const showAudit = (svc: Services): RequestHandler => async (req, res) => {
  const requested = Number(req.query.page);
  const page = Number.isInteger(requested) && requested > 0 && requested < 1e6 ? requested : 1;
  const { items, total } = await svc.store.listAudit({ limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  res.render(VIEW_AUDIT, { entries: items, total, page, pageSize: PAGE_SIZE });
};
