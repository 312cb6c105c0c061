import { BaseCommand } from '../../cli/base.js';
import { configPath, loadConfig } from '../../cli/context.js';
import type { Column } from '../../output/index.js';

interface Row {
  name: string;
  current: boolean;
  server: string;
  auth: boolean;
  /** The SASL user (or "jaas" for a JAAS file), when the context authenticates with SASL. */
  sasl?: string;
  timeout?: string;
  ensembleDir?: string;
}

const columns: Column<Row>[] = [
  { header: 'CURRENT', key: 'current', get: (r) => (r.current ? '*' : '') },
  { header: 'NAME', key: 'name', get: (r) => r.name },
  { header: 'SERVER', key: 'server', get: (r) => r.server },
  { header: 'AUTH', key: 'auth', get: (r) => (r.auth ? 'yes' : '') },
  { header: 'TIMEOUT', key: 'timeout', get: (r) => r.timeout },
  { header: 'ENSEMBLE DIR', key: 'ensembleDir', get: (r) => r.ensembleDir },
  // Last: scripts reading the plain columns by position keep their fields.
  { header: 'SASL', key: 'sasl', get: (r) => r.sasl },
];

export default class ContextLs extends BaseCommand<typeof ContextLs> {
  static override summary = 'List contexts (named connection settings).';
  static override description = `Contexts live in ${'$XDG_CONFIG_HOME/zkctl/config.yaml'} (default ~/.config/zkctl/config.yaml). \`zkctl ensemble up\` adds one for each local ensemble and makes it current. Credentials are never shown.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> -o json'];

  async run(): Promise<Row[]> {
    const cfg = loadConfig();
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const rows: Row[] = Object.entries(cfg.contexts).map(([name, entry]) => {
      // A broken entry is listed (so it can be seen and removed), with what is wrong as its server.
      const c = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
      return {
        name,
        current: cfg['current-context'] === name,
        server: str(c.server) ?? `(invalid: ${c.server === undefined ? 'no server' : JSON.stringify(c.server)})`,
        auth: !!c.auth,
        ...saslOf(c.sasl),
        timeout: str(c.timeout),
        ensembleDir: str(c['ensemble-dir']),
      };
    });
    if (rows.length === 0 && this.outputFormat === 'table') this.progress(`no contexts in ${configPath()}`);
    this.printer.rows(rows, columns);
    return rows;
  }
}

function saslOf(v: unknown): { sasl?: string } {
  if (!v || typeof v !== 'object') return {};
  const s = v as Record<string, unknown>;
  return typeof s.user === 'string' ? { sasl: s.user } : typeof s.jaas === 'string' ? { sasl: 'jaas' } : {};
}
