// Electron composition root: one instance, one secure window, the typed IPC transport over the
// same core services as the CLI and `tunesmith serve`. Everything below this layer runs under Node;
// the decisions made here (security, window state, menu) live in main/electron/ as tested functions.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, screen, session, shell } from 'electron';
import { EventBus } from './api/events.js';
import { createHandlers } from './api/handlers.js';
import { buildDoctorReport } from './core/doctor.js';
import { resolveHome } from './core/home.js';
import { createFileLogger, type Logger } from './core/logging.js';
import { type CoreServices, openCoreServices } from './core/services.js';
import { registerIpcTransport } from './electron/ipc-transport.js';
import { aboutText, buildMenuTemplate } from './electron/menu.js';
import {
  CONTENT_SECURITY_POLICY,
  isExternalLinkAllowed,
  isNavigationAllowed,
  secureWebPreferences,
} from './electron/security.js';
import { initialBounds, loadWindowState, MIN_SIZE, saveWindowState } from './electron/window-state.js';

const appUrl =
  process.env.ELECTRON_RENDERER_URL ??
  pathToFileURL(join(import.meta.dirname, '../renderer/index.html')).href;

function createWindow(stateFile: string): BrowserWindow {
  const saved = loadWindowState(stateFile);
  const win = new BrowserWindow({
    ...initialBounds(
      saved,
      screen.getAllDisplays().map((d) => d.workArea),
    ),
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    title: 'Tunesmith',
    show: false,
    webPreferences: secureWebPreferences(join(import.meta.dirname, '../preload/index.cjs')),
  });
  if (saved?.maximized) win.maximize();
  win.once('ready-to-show', () => win.show());
  win.on('close', () => {
    try {
      saveWindowState(stateFile, { bounds: win.getNormalBounds(), maximized: win.isMaximized() });
    } catch {
      // Losing the window position is not worth an error box.
    }
  });
  win.webContents.on('will-navigate', (event, url) => {
    if (!isNavigationAllowed(url, appUrl)) event.preventDefault();
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (isExternalLinkAllowed(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadURL(appUrl);
  return win;
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  await app.whenReady();
  const homeDir = resolveHome(undefined);
  let services: CoreServices;
  let log: Logger;
  try {
    services = openCoreServices(homeDir);
    log = createFileLogger(services.paths.logs);
  } catch (err) {
    const { message } = err as { message: string };
    dialog.showErrorBox('Tunesmith cannot start', message);
    app.exit(1);
    return;
  }
  log.info(`Tunesmith ${app.getVersion()} starting; home ${homeDir}`);

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] },
    });
  });

  const bus = new EventBus();
  registerIpcTransport({
    ipcMain,
    handlers: createHandlers({ services, bus }),
    bus,
    targets: () => BrowserWindow.getAllWindows().map((w) => w.webContents),
    isTrustedSender: (url) => isNavigationAllowed(url, appUrl),
  });

  const stateFile = join(homeDir, 'window-state.json');
  let win = createWindow(stateFile);
  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      buildMenuTemplate(
        {
          openHomeFolder: () => void shell.openPath(homeDir),
          openLogsFolder: () => void shell.openPath(services.paths.logs),
          showAbout: async () => {
            const report = await buildDoctorReport({ homeDir, store: services.store });
            void dialog.showMessageBox(win, {
              type: 'info',
              title: 'About Tunesmith',
              message: aboutText(report),
            });
          },
          quit: () => app.quit(),
        },
        process.platform,
      ),
    ),
  );
  app.on('second-instance', () => {
    if (win.isDestroyed()) win = createWindow(stateFile);
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('window-all-closed', () => {
    log.info('last window closed; quitting');
    services.close();
    app.quit();
  });
}

void start();
