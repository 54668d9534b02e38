// The PEC service's clock (architecture.md "Inject the clock"). Receipts, timers and the registro read
// time only from here. DOMICILIO_CLOCK_OFFSET_MS moves a whole `domicilio serve` forward or back (tests
// of the 12 h / 24 h timers across restarts); it is not meant for production.
export type Clock = () => Date;

export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const raw = env.DOMICILIO_CLOCK_OFFSET_MS;
  const offset = raw && /^-?\d+$/.test(raw) ? Number(raw) : 0;
  return offset === 0 ? () => new Date() : () => new Date(Date.now() + offset);
}
