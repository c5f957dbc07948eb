/** The largest request body the panel and the API read (SPEC §5: 413 above). */
export const BODY_LIMIT = '100kb';
