// Electron composition root: one instance, one secure window, the typed IPC transport over the
// same core services as the CLI and `tunesmith serve`. Everything below this layer runs under Node.
import { join } from 'node:path';
import { app, BrowserWindow, dialog, shell } from 'electron';
import { EventBus } from './api/events.js';
import { createHandlers } from './api/handlers.js';
import { resolveHome } from './core/home.js';
import { type CoreServices, openCoreServices } from './core/services.js';
import { registerIpc } from './electron/ipc.js';

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    title: 'Tunesmith',
    show: false,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // Navigation away from the app and new windows are refused; web links open in the system browser.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  const devUrl = process.env.ELECTRON_RENDERER_URL;
  if (devUrl) void win.loadURL(devUrl);
  else void win.loadFile(join(import.meta.dirname, '../renderer/index.html'));
  return win;
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  await app.whenReady();
  let services: CoreServices;
  try {
    services = openCoreServices(resolveHome(undefined));
  } catch (err) {
    const { message, hint } = err as { message: string; hint?: string };
    dialog.showErrorBox('Tunesmith cannot start', hint ? `${message}\n\n${hint}` : message);
    app.exit(1);
    return;
  }
  const bus = new EventBus();
  registerIpc(createHandlers({ services, bus }), bus, () => BrowserWindow.getAllWindows());
  let win = createWindow();
  app.on('second-instance', () => {
    if (win.isDestroyed()) win = createWindow();
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('window-all-closed', () => {
    services.close();
    app.quit();
  });
}

void start();
