import { serve } from '../../main.js';
import type { Command } from '../command.js';

export const serveCommand: Command = {
  path: ['serve'],
  usage: 'mailpass serve [--data-dir DIR]',
  summary: 'run the web panel and the SMTP submission server (what `npm start` runs)',
  help: 'Settings come from environment variables (see the README). Stops gracefully on SIGTERM or SIGINT.',
  positionals: 0,
  run: (ctx) => serve({ ...ctx.io.env, DATA_DIR: ctx.config.dataDir }),
};
