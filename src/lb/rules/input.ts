// What a rule condition reads about the query being steered (the fields of the rules language).
import type { IpAddr } from '../../util/ip';

export interface RuleInput {
  /** dns.qry.name: lowercase FQDN with trailing dot, e.g. "www.example.com." */
  qname: string;
  /** dns.qry.name.len: qname.length, given apart so that a length test need not build qname. */
  qnameLength: number;
  /** dns.qry.type */
  qtype: number;
  /** ECS address from the query (already truncated to its source prefix); null if no ECS. */
  ecs: IpAddr | null;
  /** The resolver's source address. */
  resolver: IpAddr;
  /** cf.load_balancer.name, e.g. "lb.example.com" or "*.example.com" */
  lbName: string;
  /** cf.load_balancer.region: region code of this server's PoP, e.g. "WNAM" */
  region: string | null;
}
