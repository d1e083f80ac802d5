/** `GET /openapi.json`: the OpenAPI 3.1 description, built once at start. */
import { Router } from 'express';
import type { Period } from '@candlestack/shared';
import { methodNotAllowed } from '../errors.js';
import { openApiDocument } from '../openapi.js';

export function openApiRouter(periods: readonly Period[]): Router {
  const doc = openApiDocument(periods);
  const router = Router();
  router
    .route('/openapi.json')
    .get((_req, res) => {
      res.json(doc);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
