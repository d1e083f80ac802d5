/**
 * Security headers (helmet). Every answer gets a Content-Security-Policy
 * fit for JSON: nothing may load, nothing may frame it. The pages set their
 * own: the dashboard's (dashboard.ts) replaces this one for `/`, and the
 * board's (below) is scoped to /admin/queues.
 */
import helmet from 'helmet';
import type { RequestHandler } from 'express';

const NONE = ["'none'"];

export const securityHeaders: RequestHandler = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: NONE, baseUri: NONE, formAction: NONE, frameAncestors: NONE },
  },
  frameguard: { action: 'deny' },
});

/**
 * Bull Board's page: its scripts and styles from itself, its web font from
 * Google Fonts, inline styles (its loading screen and React's style
 * attributes). No upgrade-insecure-requests: on a plain-HTTP listener it
 * would send the board's own files to an https:// that is not there.
 */
export const boardContentSecurityPolicy: RequestHandler = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
    fontSrc: ["'self'", 'https://fonts.gstatic.com', 'data:'],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    objectSrc: NONE,
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: NONE,
  },
});
