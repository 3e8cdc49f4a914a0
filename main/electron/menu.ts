// The application menu and the About box. The template is built from plain actions, so its shape is
// tested without Electron; main/index.ts wires the actions.
import type { MenuItemConstructorOptions } from 'electron';
import type { DoctorReport } from '../api/contract.js';

export interface MenuActions {
  openHomeFolder(): void;
  openLogsFolder(): void;
  showAbout(): void;
  quit(): void;
}

export function buildMenuTemplate(
  actions: MenuActions,
  platform: NodeJS.Platform,
): MenuItemConstructorOptions[] {
  const isMac = platform === 'darwin';
  return [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Open Home Folder', click: () => actions.openHomeFolder() },
        { label: 'Open Logs Folder', click: () => actions.openLogsFolder() },
        { type: 'separator' },
        isMac ? { role: 'close' } : { label: 'Quit', accelerator: 'Ctrl+Q', click: () => actions.quit() },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    {
      label: 'Help',
      submenu: [{ label: 'About Tunesmith', click: () => actions.showAbout() }],
    },
  ];
}

const GiB = 1024 ** 3;

/** The About box's text: versions, engine backends and the GPU, from the doctor report. */
export function aboutText(report: DoctorReport): string {
  const { app, engine } = report;
  const gpu =
    engine.devices.length > 0
      ? engine.devices
          .map(
            (d) => `${d.name} (${(d.totalMemoryBytes / GiB).toFixed(0)} GB, compute ${d.computeCapability})`,
          )
          .join('\n     ')
      : `none — ${engine.error ?? 'no NVIDIA GPU found'}`;
  return [
    `Tunesmith ${app.version}`,
    '',
    `Electron ${app.electron ?? '—'} · Node ${app.node} · SQLite ${app.sqlite ?? '—'}`,
    `Engine: ${engine.loadError ? `not loaded (${engine.loadError})` : `backends ${engine.backends.join(', ')}; CUDA ${engine.cudaCompiled ? 'built in' : 'not built in'}`}`,
    `GPU: ${gpu}`,
    `Home folder: ${report.home.path}`,
  ].join('\n');
}

export interface TrayActions {
  showWindow(): void;
  stopTrainingAndQuit(): void;
}

/** The tray icon's menu while runs train with the window hidden. */
export function buildTrayMenuTemplate(actions: TrayActions): MenuItemConstructorOptions[] {
  return [
    { label: 'Show Tunesmith', click: () => actions.showWindow() },
    { type: 'separator' },
    { label: 'Stop Training and Quit', click: () => actions.stopTrainingAndQuit() },
  ];
}
