// DNS numbers used by steerdns (RFC 1035, 3596, 2782, 6891, 7871, 5001, 7873, 8659, 8945, 4034, 9824).

export const enum RRType {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  HINFO = 13,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  SRV = 33,
  OPT = 41,
  DS = 43,
  RRSIG = 46,
  NSEC = 47,
  DNSKEY = 48,
  /** RFC 9824 §3: the meta-type in the NSEC type bitmap of a nonexistent name; never a question (FORMERR). */
  NXNAME = 128,
  TSIG = 250,
  IXFR = 251,
  AXFR = 252,
  ANY = 255,
  CAA = 257,
}

export const enum RRClass {
  IN = 1,
  CH = 3,
  ANY = 255,
}

export const enum Rcode {
  NOERROR = 0,
  FORMERR = 1,
  SERVFAIL = 2,
  NXDOMAIN = 3,
  NOTIMP = 4,
  REFUSED = 5,
  /** RFC 8945: the TSIG of the request could not be verified. */
  NOTAUTH = 9,
  /** Extended (needs OPT): upper 8 bits go into the OPT TTL. */
  BADVERS = 16,
  /** Extended (RFC 7873 §8): the request's server cookie is missing or invalid; here is a fresh one. */
  BADCOOKIE = 23,
}

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH', 16: 'BADVERS', 23: 'BADCOOKIE',
};

export const enum Opcode {
  QUERY = 0,
}

export const enum EdnsOption {
  NSID = 3,
  ECS = 8,
  COOKIE = 10,
}

export const HEADER_SIZE = 12;
/** RFC 1035 UDP limit for clients that send no OPT. */
export const CLASSIC_UDP_SIZE = 512;

// Header flag bits (second 16-bit word).
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
