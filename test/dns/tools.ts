// Running dig / kdig and reading their text output into sections (one parser for both formats).
import { execFile } from 'node:child_process';

export interface ToolRecord {
  name: string;
  ttl: number;
  klass: string;
  type: string;
  data: string;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  status: string;
  flags: string[];
  counts: { query: number; answer: number; authority: number; additional: number };
  question: string[];
  answer: ToolRecord[];
  authority: ToolRecord[];
  additional: ToolRecord[];
  nsid: string | null;
  /** "addr/source/scope" as printed. */
  subnet: string | null;
  udpSize: number | null;
  /** Transport of the answer that was printed. */
  transport: 'UDP' | 'TCP' | null;
  /** The tool saw TC=1 over UDP and retried over TCP. */
  retriedTcp: boolean;
}

export function run(tool: 'dig' | 'kdig', args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { timeout: 15000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

function records(lines: string[]): ToolRecord[] {
  return lines.map((l) => {
    const [name, ttl, klass, type, ...rest] = l.trim().split(/\s+/);
    return { name: name.replace(/\.$/, '').toLowerCase(), ttl: Number(ttl), klass, type, data: rest.join(' ') };
  });
}

export function parseTool(stdout: string, stderr = ''): ToolResult {
  const all = stdout.split('\n');
  const section = (title: string): string[] => {
    const i = all.findIndex((l) => l.trim() === `;; ${title} SECTION:`);
    if (i < 0) return [];
    const out: string[] = [];
    for (let j = i + 1; j < all.length && all[j].trim() !== ''; j++) out.push(all[j]);
    return out;
  };
  const count = (k: string): number => Number(new RegExp(`${k}: (\\d+)`).exec(stdout)?.[1] ?? NaN);
  const flagsText = /;; [Ff]lags: ([^;]*);/.exec(stdout)?.[1] ?? '';
  const nsid = /NSID: [^"\n]*(?:\("([^"]*)"\)|"([^"]*)")/.exec(stdout);
  const udp = /udp: (\d+)|UDP size: (\d+) B/.exec(stdout);
  const transport = /\((UDP|TCP)\)\s*(?:in|\n|$)/m.exec(stdout.split('\n').filter((l) => /SERVER:|From /.test(l)).join('\n'));
  return {
    stdout,
    stderr,
    status: /status: (\w+)/.exec(stdout)?.[1] ?? '',
    flags: flagsText.trim().split(/\s+/).filter(Boolean).sort(),
    counts: { query: count('QUERY'), answer: count('ANSWER'), authority: count('AUTHORITY'), additional: count('ADDITIONAL') },
    question: section('QUESTION').map((l) => l.replace(/^;+\s*/, '').trim().split(/\s+/).join(' ')),
    answer: records(section('ANSWER').filter((l) => !l.startsWith(';'))),
    authority: records(section('AUTHORITY').filter((l) => !l.startsWith(';'))),
    additional: records(section('ADDITIONAL').filter((l) => !l.startsWith(';'))),
    nsid: nsid ? (nsid[1] ?? nsid[2]) : null,
    subnet: /CLIENT-SUBNET: (\S+)/.exec(stdout)?.[1] ?? null,
    udpSize: udp ? Number(udp[1] ?? udp[2]) : null,
    transport: transport ? (transport[1] as 'UDP' | 'TCP') : null,
    retriedTcp: /Truncated, retrying in TCP mode|truncated reply from .*retrying over TCP/.test(stdout + stderr),
  };
}

export async function dig(tool: 'dig' | 'kdig', port: number, args: string[]): Promise<ToolResult> {
  const base = ['@127.0.0.1', '-p', String(port), '+time=2', tool === 'dig' ? '+tries=2' : '+retry=1'];
  const { stdout, stderr } = await run(tool, [...base, ...args]);
  return parseTool(stdout, stderr);
}

export function rdataOf(rs: ToolRecord[], type: string): string[] {
  return rs.filter((r) => r.type === type).map((r) => r.data).sort();
}
