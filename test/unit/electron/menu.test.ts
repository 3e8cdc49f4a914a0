import { describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../../main/api/contract.js';
import { aboutText, buildMenuTemplate, buildTrayMenuTemplate } from '../../../main/electron/menu.js';

describe('application menu', () => {
  it('offers the home and logs folders, About and Quit, each wired to its action', () => {
    const called: string[] = [];
    const template = buildMenuTemplate(
      {
        openHomeFolder: () => called.push('home'),
        openLogsFolder: () => called.push('logs'),
        showAbout: () => called.push('about'),
        quit: () => called.push('quit'),
      },
      'linux',
    );
    const items = template.flatMap((m) => (Array.isArray(m.submenu) ? m.submenu : []));
    for (const label of ['Open Home Folder', 'Open Logs Folder', 'About Tunesmith', 'Quit']) {
      const item = items.find((i) => i.label === label);
      const click = item?.click as (() => void) | undefined;
      expect(click, label).toBeTypeOf('function');
      click?.();
    }
    expect(called).toEqual(['home', 'logs', 'about', 'quit']);
  });

  it('uses the macOS app menu on a Mac', () => {
    const noop = () => {};
    const mac = buildMenuTemplate(
      { openHomeFolder: noop, openLogsFolder: noop, showAbout: noop, quit: noop },
      'darwin',
    );
    expect(mac[0]).toEqual({ role: 'appMenu' });
  });
});

describe('About box', () => {
  const report = {
    app: {
      version: '1.2.3',
      node: '22.0.0',
      electron: '45.5.0',
      sqlite: '3.53.2',
      platform: 'linux',
      arch: 'x64',
    },
    engine: {
      backends: ['cpu', 'cuda'],
      cudaCompiled: true,
      devices: [
        {
          index: 0,
          name: 'NVIDIA RTX 4090',
          totalMemoryBytes: 24 * 1024 ** 3,
          freeMemoryBytes: 20 * 1024 ** 3,
          computeCapability: '8.9',
          multiProcessors: 128,
        },
      ],
    },
    home: { path: '/home/ana/.local/share/tunesmith', exists: true, writable: true },
    database: { path: '/x/tunesmith.db', ok: true },
    ok: true,
    problems: [],
  } satisfies DoctorReport;

  it('names the versions, engine backends and the GPU', () => {
    const text = aboutText(report);
    expect(text).toMatch(/Tunesmith 1\.2\.3/);
    expect(text).toMatch(/Electron 45\.5\.0/);
    expect(text).toMatch(/backends cpu, cuda/);
    expect(text).toMatch(/NVIDIA RTX 4090 \(24 GB, compute 8\.9\)/);
  });

  it('says why there is no GPU', () => {
    const text = aboutText({
      ...report,
      engine: { backends: ['cpu'], cudaCompiled: true, devices: [], error: 'no NVIDIA driver found' },
    });
    expect(text).toMatch(/GPU: none — no NVIDIA driver found/);
  });
});

describe('tray menu', () => {
  it('shows the window or stops training and quits', () => {
    const called: string[] = [];
    const template = buildTrayMenuTemplate({
      showWindow: () => called.push('show'),
      stopTrainingAndQuit: () => called.push('stop'),
    });
    const labelled = template.filter((i) => i.label);
    expect(labelled.map((i) => i.label)).toEqual(['Show Tunesmith', 'Stop Training and Quit']);
    for (const item of labelled) (item.click as () => void)();
    expect(called).toEqual(['show', 'stop']);
  });
});
