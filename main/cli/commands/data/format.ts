// Human-readable pieces shared by `data import` and `data show`.
import type { DatasetVersion, ValidationReport } from '../../../api/contract.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatSplit(version: DatasetVersion): string {
  if (version.trainCount === null) return `${plural(version.exampleCount, 'example')} (no eval split)`;
  return `${plural(version.exampleCount, 'example')}: ${version.trainCount} train, ${version.evalCount ?? 0} eval`;
}

/** The summary and the first issues; says plainly whether training will accept the version. */
export function formatReport(report: ValidationReport, shown = 10): string[] {
  const lines: string[] = [];
  if (report.errorCount === 0 && report.warningCount === 0) {
    lines.push('Checks: no problems found.');
    return lines;
  }
  lines.push(`Checks: ${plural(report.errorCount, 'error')}, ${plural(report.warningCount, 'warning')}`);
  for (const [rule, { severity, count }] of Object.entries(report.byRule)) {
    lines.push(`  ${severity.padEnd(7)}  ${rule.padEnd(22)} ${count}`);
  }
  const first = report.issues.slice(0, shown);
  lines.push('', `First ${first.length === 1 ? 'issue' : `${first.length} issues`}:`);
  for (const issue of first) lines.push(`  ${issue.severity === 'error' ? '✖' : '!'} ${issue.message}`);
  const more = report.errorCount + report.warningCount - first.length;
  if (more > 0) lines.push(`  … and ${more} more`);
  if (report.blockingCount > 0) {
    const numbers = report.blockingOrdinals.slice(0, 20).map((o) => o + 1);
    lines.push(
      '',
      `Training will refuse this version until ${plural(report.blockingCount, 'example')} with errors ${report.blockingCount === 1 ? 'is' : 'are'} fixed or deleted: ` +
        `${numbers.join(', ')}${report.blockingCount > numbers.length ? ', …' : ''}.`,
    );
  }
  return lines;
}
