// What `check` (and every load) reports about shared health beyond the schema: region codes in pools'
// `check_regions`, and a vantage point that cannot be named. Regions come in from the caller (geo/regions.ts), so
// the health module does not depend on the geography data.
import { posOf } from '../../config/kit';
import type { Config, Problem } from '../../config/types';

export interface RegionInfo {
  /** This PoP's region (given, or derived from its country), null when unknown. */
  popRegion: string | null;
  isValidRegion: (code: string) => boolean;
  codes: readonly string[];
}

export function sharedHealthProblems(config: Config, regions: RegionInfo): Problem[] {
  const problems: Problem[] = [];
  const shared = config.server.shared_health;
  for (const pool of config.pools.values()) {
    const list = pool.check_regions;
    if (list === null) continue;
    list.forEach((code, i) => {
      if (!regions.isValidRegion(code)) problems.push({ pos: posOf(list, i), message: `pool "${pool.name}": unknown region "${code}" in check_regions (regions: ${regions.codes.join(', ')})`, severity: 'error' });
    });
    if (shared === null) {
      problems.push({
        pos: posOf(pool, 'check_regions'),
        message: `pool "${pool.name}": check_regions chooses which vantage points vote on health when server.shared_health is set; without it this server is the only vantage point and check_regions has no effect`,
        severity: 'warning',
      });
    }
  }
  if (shared !== null) {
    const at = posOf(config.server, 'shared_health');
    if (regions.popRegion === null) {
      problems.push({ pos: at, message: 'shared_health names this instance by its PoP code and region: set server.pop.region, or server.pop.country to derive it', severity: 'error' });
    } else if (!regions.isValidRegion(regions.popRegion)) {
      problems.push({ pos: posOf(config.server.pop, 'region'), message: `unknown region "${regions.popRegion}" for this PoP (regions: ${regions.codes.join(', ')})`, severity: 'error' });
    }
    if (config.server.pop.code === 'LOCAL') {
      problems.push({ pos: at, message: 'shared_health: every instance needs its own server.pop.code (it names the vantage point); this one uses the default "LOCAL"', severity: 'warning' });
    }
  }
  return problems;
}
