export interface SystemDep {
  name: string;
  package: string;
  find: () => string | null;
}
export const SYSTEM_DEPS: SystemDep[];
export function which(cmd: string): string | null;
export function findPostgresBin(cmd: string): string | null;
export function ensureSystemDeps(deps?: SystemDep[]): void;
