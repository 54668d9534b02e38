export interface PostgresCluster {
  url(db: string): string;
  adminUrl: string;
  port: number;
  stop(): void;
}
export function startPostgresCluster(): Promise<PostgresCluster>;
