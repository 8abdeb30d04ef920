/** The image's /webhook script (see webhook-entry.mjs). */
export const WEBHOOK_SCRIPT: string;
