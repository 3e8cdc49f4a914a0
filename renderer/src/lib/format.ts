const GiB = 1024 ** 3;

export function formatGiB(bytes: number): string {
  return `${(bytes / GiB).toFixed(1)} GB`;
}
