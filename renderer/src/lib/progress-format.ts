// Numbers of a training run as a person reads them: times, sizes, speeds, learning rates.

/** "under a minute", "about 25 minutes", "about 2 h 10 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'unknown';
  if (seconds < 60) return 'under a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours >= 48) return `about ${Math.round(hours / 24)} days`;
  return rest === 0 ? `about ${hours} h` : `about ${hours} h ${rest} min`;
}

/** 1024-based, as memory is counted: "5.2 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unknown';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${value} bytes`
    : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Small numbers such as a learning rate: "2.0e-4"; others with 3–4 significant digits. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && magnitude < 1e-3) return value.toExponential(1);
  if (magnitude >= 1000) return formatCount(value);
  return String(Number(value.toPrecision(4)));
}

export function formatPercent(share: number): string {
  return `${Math.round(share * 100)}%`;
}
