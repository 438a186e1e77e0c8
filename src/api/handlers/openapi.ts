/** GET /api/openapi.json */
import type { Handler } from '../handler.js';
import { openApiDocument } from '../openapi.js';

export const getOpenApi: Handler = async () => ({ status: 200, body: openApiDocument() });
