// Electron composition root: one instance, one secure window, the typed IPC transport over the
// same core services as the CLI and `tunesmith serve`, trainers in utility processes. Everything below
// this layer runs under Node; the decisions made here (security, window state, menu, closing while
// training, notices about runs, first-run guidance, which paths may be opened) live in main/electron/
// as tested functions, and this file only wires them to Electron.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  Notification,
  powerMonitor,
  screen,
  session,
  shell,
  Tray,
  utilityProcess,
} from 'electron';
import { EventBus } from './api/events.js';
import { createHandlers } from './api/handlers.js';
import { buildDoctorReport } from './core/doctor.js';
import { resolveHome } from './core/home.js';
import { createFileLogger, type Logger } from './core/logging.js';
import { type CoreServices, openCoreServices } from './core/services.js';
import { appFiles } from './electron/app-paths.js';
import {
  closeChoice,
  closeQuestion,
  mustAskBeforeClosing,
  STOP_GRACE_MS,
  shouldQuitFromBackground,
} from './electron/close-guard.js';
import { firstRunGuidance, firstRunPending, markFirstRunDone } from './electron/first-run.js';
import { registerIpcTransport } from './electron/ipc-transport.js';
import { aboutText, buildMenuTemplate, buildTrayMenuTemplate } from './electron/menu.js';
import { createOpenPath } from './electron/open-path.js';
import {
  interruptedAtStartNotice,
  noticeButtons,
  noticeForRunEvent,
  type RunNotice,
  runsToResume,
} from './electron/run-notices.js';
import {
  CONTENT_SECURITY_POLICY,
  isExternalLinkAllowed,
  isNavigationAllowed,
  secureWebPreferences,
} from './electron/security.js';
import { utilityTrainerLauncher } from './electron/trainer-process.js';
import { initialBounds, loadWindowState, MIN_SIZE, saveWindowState } from './electron/window-state.js';

const files = appFiles(import.meta.dirname);
const appUrl = process.env.ELECTRON_RENDERER_URL ?? pathToFileURL(files.renderer).href;

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
    webPreferences: secureWebPreferences(files.preload),
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

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  await app.whenReady();
  const homeDir = resolveHome(undefined);
  let services: CoreServices;
  let log: Logger | undefined;
  try {
    services = openCoreServices(
      homeDir,
      {},
      {
        launchTrainer: utilityTrainerLauncher({
          fork: (file, args, options) => utilityProcess.fork(file, args, options),
          onOutput: (line, stream) => log?.[stream === 'stderr' ? 'warn' : 'info'](`trainer: ${line}`),
          onFatalError: (description) => log?.error(`trainer crashed: ${description}`),
        }),
        trainerEntry: files.trainer,
      },
    );
    log = createFileLogger(services.paths.logs);
  } catch (err) {
    dialog.showErrorBox('Tunesmith cannot start', messageOf(err));
    app.exit(1);
    return;
  }
  const logger = log;
  const { runs } = services;
  logger.info(`Tunesmith ${app.getVersion()} starting; home ${homeDir}`);

  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] },
    });
  });

  const bus = new EventBus();
  const openPath = createOpenPath({
    shell,
    roots: () => [
      homeDir,
      ...services.store.exports
        .list({ limit: 10_000 })
        .filter((e) => e.status === 'completed')
        .map((e) => e.path),
    ],
    onRefused: (target, reason) => logger.warn(`not opening ${target}: ${reason}`),
  });
  const chooseFolder = async (title: string): Promise<string | null> => {
    const owner = BrowserWindow.getFocusedWindow();
    const options = { title, properties: ['openDirectory' as const] };
    const chosen = owner ? await dialog.showOpenDialog(owner, options) : await dialog.showOpenDialog(options);
    return chosen.canceled ? null : (chosen.filePaths[0] ?? null);
  };
  registerIpcTransport({
    ipcMain,
    handlers: createHandlers({ services, bus, openPath, chooseFolder }),
    bus,
    targets: () => BrowserWindow.getAllWindows().map((w) => w.webContents),
    isTrustedSender: (url) => isNavigationAllowed(url, appUrl),
  });

  // Closing while training: ask; "keep training" hides the window, "stop" pauses and then quits.
  let closeAllowed = false;
  let quitting = false;
  let inBackground = false;
  let tray: Tray | undefined;
  const stateFile = join(homeDir, 'window-state.json');

  const allowShutdown = () => {
    closeAllowed = true;
    quitting = true;
  };
  powerMonitor.on('shutdown', allowShutdown);
  const openWindow = (): BrowserWindow => {
    const created = createWindow(stateFile);
    // Logging out or shutting down is no time for a question; the runs resume from their checkpoints.
    created.on('session-end', allowShutdown);
    created.on('close', (event) => {
      const active = runs.activeRuns();
      if (!mustAskBeforeClosing({ activeRuns: active.length, closeAllowed })) return;
      event.preventDefault();
      const names = active.map((id) => services.store.runs.get(id)?.name ?? `Run ${id}`);
      void dialog.showMessageBox(created, closeQuestion(names)).then(({ response }) => {
        const choice = closeChoice(response);
        logger.info(`closing with ${active.length} run(s) training: ${choice}`);
        if (choice === 'stop') void stopTrainingAndQuit();
        else if (choice === 'background') sendToBackground();
      });
    });
    return created;
  };
  let win = openWindow();

  const showWindow = () => {
    if (win.isDestroyed()) win = openWindow();
    inBackground = false;
    tray?.destroy();
    tray = undefined;
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };

  const stopTrainingAndQuit = async () => {
    closeAllowed = true;
    quitting = true;
    const active = runs.activeRuns();
    if (!win.isDestroyed()) win.hide();
    for (const id of active) {
      try {
        runs.pause(id);
      } catch {
        // It ended meanwhile.
      }
    }
    // Each trainer saves a checkpoint at its next optimizer step; a step that takes longer than
    // the grace period loses only that step (the run is then interrupted at its last checkpoint).
    await Promise.race([
      Promise.all(active.map((id) => runs.waitFor(id))),
      new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS)),
    ]);
    app.quit();
  };

  const sendToBackground = () => {
    inBackground = true;
    win.hide();
    if (!tray) {
      try {
        tray = new Tray(join(app.getAppPath(), 'resources', 'icons', '32x32.png'));
        tray.setToolTip('Tunesmith is training in the background');
        tray.setContextMenu(
          Menu.buildFromTemplate(
            buildTrayMenuTemplate({ showWindow, stopTrainingAndQuit: () => void stopTrainingAndQuit() }),
          ),
        );
        tray.on('click', showWindow);
      } catch (err) {
        // No tray on this desktop: starting Tunesmith again shows the window (second-instance).
        logger.warn(`no tray icon: ${messageOf(err)}`);
      }
    }
    const active = runs.activeRuns();
    void Promise.all(active.map((id) => runs.waitFor(id))).then(() => {
      if (shouldQuitFromBackground({ inBackground, activeRuns: runs.activeRuns().length })) {
        logger.info('background training ended; quitting');
        closeAllowed = true;
        app.quit();
      }
    });
  };

  const resume = (runIds: number[]) => {
    for (const id of runIds) {
      try {
        runs.launch(id, { resume: true });
      } catch (err) {
        const { message, hint } = err as { message?: string; hint?: string };
        void dialog.showMessageBox({
          type: 'error',
          title: 'The run cannot resume',
          message: message ?? messageOf(err),
          ...(hint ? { detail: hint } : {}),
        });
      }
    }
  };

  const showNotice = (notice: RunNotice) => {
    logger.warn(`${notice.title}: ${notice.body}`);
    if (notice.via === 'dialog' && !win.isDestroyed() && win.isVisible()) {
      void dialog
        .showMessageBox(win, {
          type: 'warning',
          title: notice.title,
          message: notice.title,
          detail: notice.body,
          noLink: true,
          ...noticeButtons(notice),
        })
        .then(({ response }) => resume(runsToResume(notice, response)));
    } else if (Notification.isSupported()) {
      const notification = new Notification({ title: notice.title, body: notice.body });
      notification.on('click', showWindow);
      notification.show();
    }
  };

  // A trainer that dies costs its run, never the window: the run is left interrupted and resumable.
  runs.subscribe((event) => {
    const notice = noticeForRunEvent(event, { quitting, inBackground });
    if (notice) showNotice(notice);
  });

  const showStartupNotices = async () => {
    if (firstRunPending(homeDir)) {
      const guidance = firstRunGuidance(await buildDoctorReport({ homeDir, store: services.store }));
      logger.info(`first start: ${guidance.message} ${guidance.detail.replaceAll('\n\n', ' ')}`);
      await dialog.showMessageBox(win, {
        type: guidance.ok ? 'info' : 'warning',
        title: guidance.title,
        message: guidance.message,
        detail: guidance.detail,
        buttons: ['OK'],
        noLink: true,
      });
      markFirstRunDone(homeDir, app.getVersion());
    }
    const interrupted = interruptedAtStartNotice(runs.interruptedAtStart);
    if (interrupted) showNotice(interrupted);
  };
  win.once('ready-to-show', () => {
    showStartupNotices().catch((err) => logger.warn(`startup notices: ${messageOf(err)}`));
  });

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
  app.on('second-instance', showWindow);
  app.on('activate', showWindow);
  app.on('window-all-closed', () => {
    logger.info('last window closed; quitting');
    quitting = true;
    tray?.destroy();
    services.close();
    app.quit();
  });
}

void start();
