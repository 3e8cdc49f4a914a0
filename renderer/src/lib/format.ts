// Numbers, sizes, times and dates as a person reads them: "1.2 GB", "494 million", "100,000",
// "about 25 minutes", "3 minutes ago". A value that is not known yet reads "—".
const MISSING = '—';

function known(value: number | null | undefined): value is number {
  return value !== null && value !== undefined && Number.isFinite(value);
}

/** 1024-based, as memory and files are counted: "412 bytes", "6.0 MB", "15.6 GB", "988 MB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (!known(bytes)) return MISSING;
  if (Math.abs(bytes) < 1024) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.abs(value) < 100 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** Whole things: "100,000". */
export function formatCount(count: number | null | undefined): string {
  return known(count) ? Math.round(count).toLocaleString('en-US') : MISSING;
}

/** A model's size in parameters: "494 million", "7.2 billion". */
export function formatParams(count: number): string {
  if (count >= 1e9) return `${(count / 1e9).toFixed(1)} billion`;
  if (count >= 1e6) return `${Math.round(count / 1e6)} million`;
  return formatCount(count);
}

/** Losses, rates and other measurements: four significant digits, tiny ones like "2.0e-4". */
export function formatNumber(value: number | null | undefined): string {
  if (!known(value)) return MISSING;
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && magnitude < 1e-3) return value.toExponential(1);
  if (magnitude >= 1000) return formatCount(value);
  return String(Number(value.toPrecision(4)));
}

/** A share as a percentage: 0.67 → "67%". */
export function formatPercent(share: number | null | undefined): string {
  return known(share) ? `${Math.round(share * 100)}%` : MISSING;
}

/** A time that has passed, exactly enough: "45 s", "2 min 5 s", "3 h 10 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (!known(seconds)) return MISSING;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${s % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A time still to come, as an estimate: "under a minute", "about 25 minutes", "about 2 h 10 min". */
export function formatRoughDuration(seconds: number | null | undefined): string {
  if (!known(seconds) || seconds < 0) return 'unknown';
  if (seconds < 60) return 'under a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours >= 48) return `about ${Math.round(hours / 24)} days`;
  return rest === 0 ? `about ${hours} h` : `about ${hours} h ${rest} min`;
}

/** A moment as a date and time: "Jan 10, 2026, 9:00 AM". */
export function formatDate(ms: number | null | undefined): string {
  if (!known(ms)) return MISSING;
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A recent moment: "just now", "3 minutes ago", "yesterday", or the date. */
export function formatWhen(at: number, now: number = Date.now()): string {
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 60) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  const days = Math.round(hours / 24);
  if (days === 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  return new Date(at).toLocaleDateString();
}

/** The last segment of a path, for long folders shown in full elsewhere. */
export function baseName(path: string): string {
  return (
    path
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? path
  );
}
