import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  isExternalLinkAllowed,
  isNavigationAllowed,
  secureWebPreferences,
} from '../../../main/electron/security.js';
import { REPO_ROOT } from '../../helpers/cli.js';

describe('desktop window security', () => {
  it('isolates and sandboxes the renderer, with no Node anywhere', () => {
    const prefs = secureWebPreferences('/app/preload/index.cjs');
    expect(prefs).toMatchObject({
      preload: '/app/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('has a CSP that allows only the app’s own scripts and no framing or plugins', () => {
    const directives = new Map(
      CONTENT_SECURITY_POLICY.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')] as const;
      }),
    );
    expect(directives.get('default-src')).toBe("'self'");
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('object-src')).toBe("'none'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval/);
  });

  it('ships the same script policy in the renderer page itself', () => {
    const html = readFileSync(join(REPO_ROOT, 'renderer', 'index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(meta).toMatch(/default-src 'self'/);
    expect(meta).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
  });

  it('lets the window show only the app itself', () => {
    const packaged = 'file:///opt/Tunesmith/resources/app.asar/out/renderer/index.html';
    expect(isNavigationAllowed(`${packaged}#/runs`, packaged)).toBe(true);
    expect(isNavigationAllowed('file:///etc/passwd', packaged)).toBe(false);
    expect(isNavigationAllowed('https://evil.example/', packaged)).toBe(false);
    const dev = 'http://localhost:5173/';
    expect(isNavigationAllowed('http://localhost:5173/runs/1', dev)).toBe(true);
    expect(isNavigationAllowed('http://localhost:5174/', dev)).toBe(false);
    expect(isNavigationAllowed('not a url', dev)).toBe(false);
  });

  it('hands only web links to the system browser', () => {
    expect(isExternalLinkAllowed('https://ollama.com/download')).toBe(true);
    expect(isExternalLinkAllowed('http://example.com/')).toBe(true);
    expect(isExternalLinkAllowed('file:///C:/Windows/System32/calc.exe')).toBe(false);
    expect(isExternalLinkAllowed('javascript:alert(1)')).toBe(false);
    expect(isExternalLinkAllowed('ms-msdt:/id')).toBe(false);
    expect(isExternalLinkAllowed('')).toBe(false);
  });
});
