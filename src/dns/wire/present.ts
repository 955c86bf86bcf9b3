// A dig-like text rendering of a response we produced (explain output, debugging); RDATA is shown by the
// record-type table (rrtypes.ts).
import { RCODE_NAMES, RRType } from './constants';
import { presentRData, readName, typeName } from './rrtypes';

/** Renders a DNS message (without TCP prefix) as dig-style sections. */
export function presentMessage(pkt: Buffer): string {
  const flags = pkt.readUInt16BE(2);
  const counts = [pkt.readUInt16BE(4), pkt.readUInt16BE(6), pkt.readUInt16BE(8), pkt.readUInt16BE(10)];
  const flagNames = [[0x8000, 'qr'], [0x0400, 'aa'], [0x0200, 'tc'], [0x0100, 'rd'], [0x0080, 'ra']] as const;
  let rcode = flags & 0xf;
  const lines: string[] = [];
  let off = 12;
  for (let i = 0; i < counts[0]; i++) {
    const n = readName(pkt, off);
    lines.push(`;; QUESTION: ${n.name} ${typeName(pkt.readUInt16BE(n.end))}`);
    off = n.end + 4;
  }
  const sections = ['ANSWER', 'AUTHORITY', 'ADDITIONAL'];
  for (let s = 0; s < 3; s++) {
    if (counts[s + 1] === 0) continue;
    const body: string[] = [];
    for (let i = 0; i < counts[s + 1]; i++) {
      const n = readName(pkt, off);
      const type = pkt.readUInt16BE(n.end);
      const ttl = pkt.readUInt32BE(n.end + 4);
      const len = pkt.readUInt16BE(n.end + 8);
      const rdOff = n.end + 10;
      if (type === RRType.OPT) {
        rcode |= pkt[n.end + 4] << 4;
        body.push(`; OPT udp=${pkt.readUInt16BE(n.end + 2)}${optText(pkt.subarray(rdOff, rdOff + len))}`);
      } else {
        body.push(`${n.name}\t${ttl}\t${pkt.readUInt16BE(n.end + 2) === 3 ? 'CH' : 'IN'}\t${typeName(type)}\t${presentRData(pkt, type, rdOff, len)}`);
      }
      off = rdOff + len;
    }
    lines.push(`;; ${sections[s]}:`, ...body);
  }
  const header = `;; status: ${RCODE_NAMES[rcode] ?? rcode}, flags: ${flagNames.filter(([b]) => flags & b).map(([, n]) => n).join(' ')}`;
  return [header, ...lines].join('\n');
}

function optText(rd: Buffer): string {
  const parts: string[] = [];
  let o = 0;
  while (o + 4 <= rd.length) {
    const code = rd.readUInt16BE(o);
    const len = rd.readUInt16BE(o + 2);
    const d = rd.subarray(o + 4, o + 4 + len);
    if (code === 8 && len >= 4) parts.push(` ecs=${d.readUInt16BE(0) === 1 ? 'ipv4' : 'ipv6'}/${d[2]}/scope ${d[3]}`);
    else if (code === 3) parts.push(` nsid="${d.toString('utf8')}"`);
    else parts.push(` option${code}`);
    o += 4 + len;
  }
  return parts.join('');
}
